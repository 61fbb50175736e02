-- A run started from a help answer belongs to that support session: its progress
-- is what the next help request reads to resume, not replay, or change approach.
ALTER TABLE runs ADD COLUMN session TEXT NOT NULL DEFAULT '';
