-- Per-key parts of the balances whose triggers mark lower bounds rather than their events' dates (overdue
-- receivables: a payment's event depends on its invoice's due date). One row per (day, key1, key2): the
-- summed events of that day whose raw rows carry those marked dates (key1 / key2: the dates the triggers
-- of the metric's first / second table mark for the rows an event comes from). A refresh takes out the
-- rows whose keys its marks hit and puts back the same keys' events from the raw rows: the difference is
-- exactly what the change did to each day (shared/metrics/README.md, Balances). Written by refresh_dirty
-- only, in the load's transaction; no key (keys may be NULL), the indexes serve the lookups by mark.
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
