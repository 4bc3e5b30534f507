-- Budgets every worker process of the app shares (shared/db/shared_budget.py): a source's request rate, its
-- requests in flight and a points budget it reports (e.g. complexity per minute). Each worker keeping its own
-- would let N workers send N times the allowed rate. Every acquire is one short statement under one row's lock,
-- timed by the database's clock (clock_timestamp()), so the workers' own clocks never matter.

-- The send times of a budget's latest requests, a ring of the largest window's size: a limit of `n` requests
-- per `p` seconds admits the next request at the n-th latest send time + p. `head` is where the next send time
-- goes (1-based), i.e. the oldest one kept.
CREATE TABLE rate_budgets (
    budget_key text PRIMARY KEY,
    ring       integer NOT NULL CHECK (ring > 0),
    sent       timestamptz[] NOT NULL,
    head       integer NOT NULL DEFAULT 1,
    CHECK (head BETWEEN 1 AND ring AND cardinality(sent) = ring)
);

-- Requests in flight: one row per slot of a budget's concurrency limit. A slot is held by `holder` until
-- `expires_at`, which its holder renews while the request runs: a crashed worker's slot frees itself.
CREATE TABLE request_slots (
    budget_key text NOT NULL,
    slot       integer NOT NULL CHECK (slot > 0),
    holder     text,
    expires_at timestamptz NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (budget_key, slot)
);

-- A points budget the source reports on each answer (what is left, when its window resets), less what the
-- workers sent since. `last_report` is the newest ticket whose report was applied: an older answer arriving
-- later never overwrites a newer one.
CREATE TABLE points_budgets (
    budget_key  text PRIMARY KEY,
    points_left bigint NOT NULL,
    resets_at   timestamptz NOT NULL DEFAULT '-infinity',
    last_report bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Queries sent and not yet answered, with what they were expected to cost; a crashed worker's expire.
CREATE TABLE points_tickets (
    budget_key text NOT NULL,
    ticket     bigint GENERATED ALWAYS AS IDENTITY,
    cost       bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (budget_key, ticket)
);
