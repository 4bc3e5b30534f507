-- What an incremental refresh needs to restate a backdated change from the records it touched, not from every
-- record after it (shared/metrics/README.md: "Balances" and "Distinct counts"). Written by refresh_dirty only,
-- in the load's transaction; a rebuild of a metric rewrites its rows from the raw tables.

-- Balances whose triggers mark lower bounds rather than their events' dates (overdue receivables: a payment's
-- event depends on its invoice's due date): the events summed per (day, key1, key2), the keys being the dates
-- the triggers of the metric's first and second table mark for the rows an event comes from. A refresh takes
-- out the rows whose keys its marks hit and puts back the same keys' events from the raw rows: the difference
-- is exactly what the change did to each day. No key (keys may be NULL); the indexes serve lookups by mark.
CREATE TABLE metric_balance_parts (
    connection_id text NOT NULL,
    metric        text NOT NULL,
    day           date NOT NULL,
    key1          date,
    key2          date,
    delta         numeric NOT NULL,
    events        bigint NOT NULL
);
CREATE INDEX metric_balance_parts_key1 ON metric_balance_parts (connection_id, metric, key1);
CREATE INDEX metric_balance_parts_key2 ON metric_balance_parts (connection_id, metric, key2);

-- Distinct counts (active customers): which values (as text) each day has, per dimension members (`dims`, in
-- the order of the metric's dimensions), with their record count. A refresh rewrites the marked days' rows
-- and, for the values whose presence on those days changed, compares their presence in every bucket
-- containing a marked day before and after: a customer's invoice moved two years back reads that customer's
-- days, not the two years' records.
CREATE TABLE metric_distinct_parts (
    connection_id text NOT NULL,
    metric        text NOT NULL,
    day           date NOT NULL,
    dims          text[] NOT NULL,
    value         text,
    records       bigint NOT NULL
);
CREATE INDEX metric_distinct_parts_day ON metric_distinct_parts (connection_id, metric, day);
CREATE INDEX metric_distinct_parts_value ON metric_distinct_parts (connection_id, metric, value, day);
