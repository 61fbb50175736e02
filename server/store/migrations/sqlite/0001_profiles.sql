-- Profiles and their append-only support data items (claim 1).
CREATE TABLE profiles (
    site        TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    traits      TEXT    NOT NULL DEFAULT '{}',
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (site, user_id)
) WITHOUT ROWID;

CREATE TABLE support_items (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    site            TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    at_ms           INTEGER NOT NULL,
    payload         TEXT    NOT NULL DEFAULT '{}',
    failure         INTEGER NOT NULL DEFAULT 0 CHECK (failure IN (0, 1)),
    failure_reason  TEXT,
    FOREIGN KEY (site, user_id) REFERENCES profiles (site, user_id)
);

CREATE INDEX support_items_by_user ON support_items (site, user_id, id);
