-- legacy: 0025_connection_leases
-- One sync at a time per connection: a run claims a connection's lease before syncing it and releases it
-- when the run is recorded as finished. A lease left by a run that ended without finishing is recognised as
-- stale (its run is no longer 'running', or it was not renewed before expires_at) and taken over.
CREATE TABLE connection_leases (
    connection_id text PRIMARY KEY REFERENCES connections ON DELETE CASCADE,
    run_id        text NOT NULL REFERENCES sync_runs ON DELETE CASCADE,
    instance_id   text NOT NULL DEFAULT '',
    claimed_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX connection_leases_run ON connection_leases (run_id);

-- A run whose every connection was held by another run synced nothing: it is 'skipped', not 'failed'.
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_status_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check
    CHECK (status IN ('running', 'succeeded', 'failed', 'partial', 'skipped'));
