-- A run may backfill: re-read what changed since a date (shared/core/backfill.py) without a complete read.
-- The date is the run's own (the API shows it with the run); only a backfill has one, and every backfill has one.
ALTER TABLE sync_runs ADD COLUMN since date;
ALTER TABLE sync_runs DROP CONSTRAINT IF EXISTS sync_runs_mode_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_mode_check CHECK (mode IN ('full', 'incremental', 'backfill'));
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_since_check CHECK ((mode = 'backfill') = (since IS NOT NULL));
