-- High-volume event streams (locations, focus, later signals and step events),
-- written in grouped commits and read by range. One row per (site, tab, cseq):
-- a message a client resends is stored once.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    site         TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    tab          TEXT    NOT NULL,
    cseq         INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    at_ms        INTEGER NOT NULL,
    received_ms  INTEGER NOT NULL,
    payload      TEXT    NOT NULL DEFAULT '{}',
    UNIQUE (site, tab, cseq)
);

CREATE INDEX events_by_user ON events (site, user_id, id);

-- Small server-wide values (the anonymous-id signing secret, …).
CREATE TABLE server_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;
