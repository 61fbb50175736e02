-- Profiles and their append-only support data items (claim 1).
CREATE TABLE profiles (
    site        TEXT   NOT NULL,
    user_id     TEXT   NOT NULL,
    traits      JSONB  NOT NULL DEFAULT '{}'::jsonb,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    PRIMARY KEY (site, user_id)
);

CREATE TABLE support_items (
    id              BIGSERIAL PRIMARY KEY,
    site            TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    at_ms           BIGINT  NOT NULL,
    payload         JSONB   NOT NULL DEFAULT '{}'::jsonb,
    failure         BOOLEAN NOT NULL DEFAULT FALSE,
    failure_reason  TEXT,
    FOREIGN KEY (site, user_id) REFERENCES profiles (site, user_id)
);

CREATE INDEX support_items_by_user ON support_items (site, user_id, id);
