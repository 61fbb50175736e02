-- Each change to a run raises its revision: a step event moves the run only if
-- it is still at the revision it was read at, so two tabs moving one run at
-- once never lose an update (the later one reads again and applies its event
-- to what the first wrote).
ALTER TABLE runs ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
