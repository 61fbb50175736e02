-- Signing out (or a new password) ends every console session of the account: sessions carry this.
ALTER TABLE accounts ADD COLUMN session_version INTEGER NOT NULL DEFAULT 0;
-- TRUNCATE skips row triggers: refuse it too, so the audit log stays append-only.
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
