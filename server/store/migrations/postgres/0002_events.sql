-- High-volume event streams (locations, focus, later signals and step events),
-- written in grouped commits and read by range. One row per (site, tab, cseq):
-- a message a client resends is stored once.
CREATE TABLE events (
    id           BIGSERIAL PRIMARY KEY,
    site         TEXT   NOT NULL,
    user_id      TEXT   NOT NULL,
    tab          TEXT   NOT NULL,
    cseq         BIGINT NOT NULL,
    kind         TEXT   NOT NULL,
    at_ms        BIGINT NOT NULL,
    received_ms  BIGINT NOT NULL,
    payload      JSONB  NOT NULL DEFAULT '{}'::jsonb,
    UNIQUE (site, tab, cseq)
);

CREATE INDEX events_by_user ON events (site, user_id, id);

-- Small server-wide values (the anonymous-id signing secret, …).
CREATE TABLE server_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
