-- legacy: 0001_core
-- Connections, per-stream state, the sync audit and page-load bookkeeping.

CREATE TABLE connections (
    connection_id text PRIMARY KEY CHECK (connection_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    plugin        text NOT NULL,
    display_name  text NOT NULL,
    -- Plugin settings only; secrets live in Key Vault / the token store and are referenced by name.
    config        jsonb NOT NULL DEFAULT '{}'::jsonb,
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Where the next incremental run of a stream starts; advanced in the load's transaction.
CREATE TABLE stream_state (
    connection_id   text NOT NULL REFERENCES connections ON DELETE CASCADE,
    stream          text NOT NULL,
    watermark       jsonb,
    last_run_id     text,
    last_success_at timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, stream)
);

CREATE TABLE sync_runs (
    run_id      text PRIMARY KEY,
    scope       text NOT NULL,
    mode        text NOT NULL CHECK (mode IN ('full', 'incremental')),
    trigger     text NOT NULL DEFAULT 'manual',
    instance_id text,
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed', 'partial')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    errors      jsonb NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX sync_runs_started ON sync_runs (started_at DESC);

-- Counts per stream of a run; the run's totals are sums over these rows.
CREATE TABLE sync_run_streams (
    run_id        text NOT NULL REFERENCES sync_runs ON DELETE CASCADE,
    connection_id text NOT NULL,
    stream        text NOT NULL,
    status        text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    pages         integer NOT NULL DEFAULT 0,
    fetched       bigint  NOT NULL DEFAULT 0,
    inserted      bigint  NOT NULL DEFAULT 0,
    updated       bigint  NOT NULL DEFAULT 0,
    unchanged     bigint  NOT NULL DEFAULT 0,
    deleted       bigint  NOT NULL DEFAULT 0,
    api_calls     integer NOT NULL DEFAULT 0,
    throttle_waits integer NOT NULL DEFAULT 0,
    started_at    timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz,
    error         text,
    PRIMARY KEY (run_id, connection_id, stream)
);

-- A landed page is loaded once: a retried load activity skips what an earlier attempt committed.
CREATE TABLE loaded_pages (
    page_ref  text PRIMARY KEY,
    run_id    text NOT NULL,
    records   integer NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
);

-- Business time series; filled by refresh_aggregates.
CREATE TABLE metric_points (
    connection_id text NOT NULL,
    metric        text NOT NULL,
    grain         text NOT NULL CHECK (grain IN ('day', 'week', 'month', 'quarter')),
    bucket        date NOT NULL,
    value         numeric NOT NULL,
    count         bigint NOT NULL,
    computed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, metric, grain, bucket)
);
