-- Budgets planned ahead (shared/budgets/planner.py). A source meters calls per holder: a developer app (per month,
-- whatever company spends them), an account (per UTC day). The planner projects each holder's use to its reset and
-- records what it decided per run; the API and the sync-health dashboard read these tables.

-- Metered calls per connection and month, and now per meter: who meters them (the plugin's meter(): a developer
-- app's fingerprint, an account; '' where the plugin meters nothing finer than itself). A connection that moves to
-- another developer app mid-month keeps both apps' rows apart.
ALTER TABLE api_usage ADD COLUMN meter text NOT NULL DEFAULT '';
ALTER TABLE api_usage DROP CONSTRAINT api_usage_pkey;
ALTER TABLE api_usage ADD PRIMARY KEY (connection_id, month, meter);
CREATE INDEX api_usage_meter ON api_usage (plugin, meter, month);

-- Each budget as last measured (by a plan or after a run), per holder: the limits dashboards show come from here,
-- not from constants.
CREATE TABLE budget_state (
    plugin      text NOT NULL,
    holder      text NOT NULL,           -- who owns the allowance: a developer app, an account
    budget      text NOT NULL,           -- e.g. calls_this_month, calls_today
    used        bigint NOT NULL,
    quota       bigint NOT NULL,         -- the source's limit
    allowance   bigint NOT NULL,         -- the part of it syncs may spend (the rest is left to other clients)
    resets_at   timestamptz NOT NULL,
    projected   bigint,                  -- use projected at reset if every planned run goes; NULL: no history yet
    shared_by   text NOT NULL DEFAULT '',
    measured_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plugin, holder, budget)
);

-- The planner's decision per run, connection and budget: go; defer (low-priority streams left for a later run);
-- skip (a scheduled run left out, stretching the schedule); refuse (even the essential streams would run the budget
-- out before it resets). `reason` says why; the run's notes say it too.
CREATE TABLE budget_decisions (
    run_id        text NOT NULL,
    connection_id text NOT NULL,
    budget        text NOT NULL,
    plugin        text NOT NULL,
    holder        text NOT NULL,
    trigger       text NOT NULL,
    action        text NOT NULL CHECK (action IN ('go', 'defer', 'skip', 'refuse')),
    deferred      text[] NOT NULL DEFAULT '{}',
    reason        text NOT NULL DEFAULT '',
    used          bigint NOT NULL,
    quota         bigint NOT NULL,
    allowance     bigint NOT NULL,
    projected     bigint,
    resets_at     timestamptz NOT NULL,
    decided_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, connection_id, budget)
);
CREATE INDEX budget_decisions_holder ON budget_decisions (plugin, holder, budget, resets_at);
CREATE INDEX budget_decisions_connection ON budget_decisions (connection_id, decided_at DESC);

GRANT SELECT ON budget_state, budget_decisions TO bizmetrics_reader;
