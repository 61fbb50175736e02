-- The knowledge base: every published version of every walkthrough, immutable,
-- and which version of each is published now.
CREATE TABLE walkthrough_versions (
    site          TEXT    NOT NULL,
    walkthrough   TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    process       TEXT    NOT NULL,
    digest        TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    published_ms  INTEGER NOT NULL,
    PRIMARY KEY (site, walkthrough, version)
) WITHOUT ROWID;

CREATE TABLE walkthroughs (
    site          TEXT    NOT NULL,
    walkthrough   TEXT    NOT NULL,
    version       INTEGER,          -- NULL: unpublished
    updated_ms    INTEGER NOT NULL,
    PRIMARY KEY (site, walkthrough),
    FOREIGN KEY (site, walkthrough, version) REFERENCES walkthrough_versions (site, walkthrough, version)
) WITHOUT ROWID;
