-- FAQ answers (claim 11), searchable: FTS5 with stemming; questions weigh more than answers.
CREATE VIRTUAL TABLE faq_search USING fts5(
    site UNINDEXED,
    entry UNINDEXED,
    processes UNINDEXED,
    questions,
    answer,
    tokenize = 'porter unicode61'
);
