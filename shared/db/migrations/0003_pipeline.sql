-- legacy: 0003_pipeline
-- Quarantined records, API usage metering, connection health.

-- A record the plugin could not read is kept here with its reason while the rest of its page loads.
CREATE TABLE quarantine (
    connection_id text NOT NULL,
    stream        text NOT NULL,
    run_id        text NOT NULL,
    page_ref      text NOT NULL,
    position      integer NOT NULL,
    record_id     text,
    reason        text NOT NULL,
    payload       jsonb,
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (page_ref, position)
);
CREATE INDEX quarantine_connection ON quarantine (connection_id, stream);

ALTER TABLE sync_run_streams ADD COLUMN quarantined bigint NOT NULL DEFAULT 0;

-- Every API call counted per connection and calendar month (UTC): some sources meter reads per month.
CREATE TABLE api_usage (
    connection_id text NOT NULL,
    plugin        text NOT NULL,
    month         date NOT NULL,
    calls         bigint NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, month)
);

-- Health a user must act on (e.g. "reconnect this company"), shown by the API and recorded on runs.
ALTER TABLE connections ADD COLUMN status text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'action_required'));
ALTER TABLE connections ADD COLUMN status_reason text;
ALTER TABLE connections ADD COLUMN status_changed_at timestamptz;
