-- legacy: 0021_run_notes
-- What a plan said about a run that is not an error (e.g. "no recent CDC watermark: reading everything",
-- "12 unchanged boards skipped"), kept per connection with the run.
ALTER TABLE sync_runs ADD COLUMN notes jsonb NOT NULL DEFAULT '[]'::jsonb;
