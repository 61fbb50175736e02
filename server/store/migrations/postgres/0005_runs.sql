-- Walkthrough runs: the current step of each run, pinned to a walkthrough version.
CREATE TABLE runs (
    id           TEXT    PRIMARY KEY,
    site         TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    tab          TEXT    NOT NULL,
    walkthrough  TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    step         TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    completed    JSONB   NOT NULL DEFAULT '[]'::jsonb,
    started_ms   BIGINT  NOT NULL,
    updated_ms   BIGINT  NOT NULL,
    FOREIGN KEY (site, walkthrough, version) REFERENCES walkthrough_versions (site, walkthrough, version)
);

CREATE INDEX runs_by_user ON runs (site, user_id, updated_ms);
CREATE INDEX events_step_walkthrough ON events (site, kind, (payload->>'walkthrough'));
