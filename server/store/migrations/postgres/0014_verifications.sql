-- What `tandem verify` found of each walkthrough version: per step, how its target resolved.
CREATE TABLE verifications (
    id           BIGSERIAL PRIMARY KEY,
    site         TEXT    NOT NULL,
    walkthrough  TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    at_ms        BIGINT  NOT NULL,
    base_url     TEXT    NOT NULL,
    ok           BOOLEAN NOT NULL,
    steps        JSONB   NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX verifications_latest ON verifications (site, walkthrough, id);
