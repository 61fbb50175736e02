-- People who run Tandem for a site: agents, authors and admins. Passwords are argon2id hashes.
CREATE TABLE accounts (
    site          TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'author', 'agent')),
    password_hash TEXT    NOT NULL,
    skills        JSONB   NOT NULL DEFAULT '[]'::jsonb,
    capacity      INTEGER NOT NULL DEFAULT 3,
    created_ms    BIGINT  NOT NULL,
    PRIMARY KEY (site, email)
);
