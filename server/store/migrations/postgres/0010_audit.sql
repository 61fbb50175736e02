-- The audit log: append-only, who did what to which support session or account, and when.
CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    site    TEXT    NOT NULL,
    at_ms   BIGINT  NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL DEFAULT '',
    detail  JSONB   NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_by_site ON audit_log (site, id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
