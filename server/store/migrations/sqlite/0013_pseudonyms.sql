-- Each visitor's pseudonym: the audit log names visitors by it, never by their id, so erasing
-- a visitor (this row with the rest of their data) leaves entries that point to no one.
CREATE TABLE pseudonyms (
    site       TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    pseudonym  TEXT NOT NULL UNIQUE,
    PRIMARY KEY (site, user_id)
) WITHOUT ROWID;
CREATE INDEX events_by_age ON events (site, received_ms);
