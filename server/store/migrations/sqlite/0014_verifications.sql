-- What `tandem verify` found of each walkthrough version: per step, how its target resolved.
CREATE TABLE verifications (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    site         TEXT    NOT NULL,
    walkthrough  TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    at_ms        INTEGER NOT NULL,
    base_url     TEXT    NOT NULL,
    ok           INTEGER NOT NULL CHECK (ok IN (0, 1)),
    steps        TEXT    NOT NULL DEFAULT '[]'
);
CREATE INDEX verifications_latest ON verifications (site, walkthrough, id);
