-- Finding a support session's items by its id (the explain API).
CREATE INDEX support_items_by_session ON support_items (site, json_extract(payload, '$.session'));
