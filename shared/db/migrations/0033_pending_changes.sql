-- Changes a source announced (webhooks, through the change queue), waiting for the debounced incremental sync of
-- their connection (orchestrators/sync_on_change.py, shared/db/pending_changes.py). One row per connection that
-- ever had a notice; a claim empties it.
--
-- `driver` decides who drives a connection's event-driven syncs: NULL (state 'idle'), nobody, and the next notice
-- starts an orchestrator; otherwise the instance id of the one orchestrator that does. The queue trigger sets it
-- and the orchestrator clears it (when nothing is pending) under this row's lock, so a notice arriving at that
-- moment either is seen by the driver or starts the next one: never lost, never two drivers.
CREATE TABLE pending_changes (
    connection_id  text PRIMARY KEY REFERENCES connections ON DELETE CASCADE,
    -- The union of the pending notices' plugin-defined hints (a bounded set; past the bound, `everything`).
    changed        text[] NOT NULL DEFAULT '{}',
    -- A pending notice named nothing in particular (or too much): the run reads every stream incrementally.
    everything     boolean NOT NULL DEFAULT false,
    -- Pending notices (0: nothing waits), and when the first and latest of them arrived (their received_at).
    events         integer NOT NULL DEFAULT 0 CHECK (events >= 0),
    first_event_at timestamptz,
    last_event_at  timestamptz,
    state          text NOT NULL DEFAULT 'idle' CHECK (state IN ('idle', 'driving')),
    driver         text,
    -- Counts the drivers started for this connection: each one's instance id ends with it, so a new driver never
    -- collides with the previous one while that one is still finishing.
    generation     bigint NOT NULL DEFAULT 0,
    driving_since  timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'driving') = (driver IS NOT NULL))
);
