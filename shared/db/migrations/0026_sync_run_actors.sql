-- Who started or cancelled a run (an API caller's actor string, e.g. "key:k_3f9a..." or "user:<oid> (<name>)";
-- NULL for timer runs), and the cancelled state a caller can put a run in.
ALTER TABLE sync_runs ADD COLUMN started_by text;
ALTER TABLE sync_runs ADD COLUMN cancelled_by text;
ALTER TABLE sync_runs DROP CONSTRAINT IF EXISTS sync_runs_status_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check
    CHECK (status IN ('running', 'succeeded', 'failed', 'partial', 'skipped', 'cancelled'));
-- Listing a connection's runs (scope is the connection id, or 'all').
CREATE INDEX sync_runs_scope_started ON sync_runs (scope, started_at DESC, run_id DESC);
