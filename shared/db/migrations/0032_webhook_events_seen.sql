-- Event ids a webhook delivered and the intake accepted (shared/changes/intake.py): a source repeats events
-- (retries, at-least-once delivery), and a repeat within the replay window is dropped here. Kept a little longer
-- than that window; older ids are pruned by the intake itself (an event older than the window is refused by its
-- time before this table is asked). Holds ids only, never an event's content.
CREATE TABLE webhook_events_seen (
    source   text NOT NULL,
    event_id text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
    seen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_id)
);
CREATE INDEX webhook_events_seen_at ON webhook_events_seen (seen_at);
