-- FAQ answers (claim 11), searchable: full-text search with stemming; questions weigh more than answers.
CREATE TABLE faq_entries (
    site       TEXT   NOT NULL,
    entry      TEXT   NOT NULL,
    processes  TEXT[] NOT NULL DEFAULT '{}',
    questions  TEXT   NOT NULL,
    answer     TEXT   NOT NULL,
    document   TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('english', questions), 'A') || setweight(to_tsvector('english', answer), 'B')
    ) STORED,
    PRIMARY KEY (site, entry)
);

CREATE INDEX faq_entries_document ON faq_entries USING GIN (document);
