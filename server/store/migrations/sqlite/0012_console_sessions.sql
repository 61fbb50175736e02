-- Signing out (or a new password) ends every console session of the account: sessions carry this.
ALTER TABLE accounts ADD COLUMN session_version INTEGER NOT NULL DEFAULT 0;
