-- Agents' presence, and the assignments of referred support sessions to agents.
ALTER TABLE accounts ADD COLUMN presence TEXT NOT NULL DEFAULT 'offline';
ALTER TABLE accounts ADD COLUMN seen_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN idle_since_ms INTEGER NOT NULL DEFAULT 0;
CREATE TABLE assignments (
    site        TEXT    NOT NULL,
    session     TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('queued', 'offered', 'accepted', 'closed')),
    agent       TEXT    NOT NULL DEFAULT '',
    needs       TEXT    NOT NULL DEFAULT '[]',
    skipped     TEXT    NOT NULL DEFAULT '[]',
    queued_ms   INTEGER NOT NULL,
    offered_ms  INTEGER NOT NULL DEFAULT 0,
    accepted_ms INTEGER NOT NULL DEFAULT 0,
    closed_ms   INTEGER NOT NULL DEFAULT 0,
    revision    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, session)
);
CREATE INDEX assignments_open ON assignments (site, state);
