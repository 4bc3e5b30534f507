-- A distinct count's parts are found by value only to restate a backdated change (shared/metrics/sql.py
-- distinct_changes: every stored day of the values whose presence changed); a rebuild writes them all at once and
-- then reads them in one pass. The b-tree on (connection, metric, value, day) was most of writing them: inserted in
-- no order, each part descended and dirtied a random leaf. A first sync's rebuild of active customers (47,139
-- parts) spent 1.2-1.4 s writing them with it and 0.6-0.9 s with this hash index in its place
-- (docs/SCALING.md). The key joins connection, metric and value, so a customer id that many connections share
-- still finds one connection's parts (the lookup checks the columns themselves too); NULL values are not indexed
-- and never looked up.
DROP INDEX metric_distinct_parts_value;
CREATE INDEX metric_distinct_parts_lookup ON metric_distinct_parts
    USING hash ((connection_id || ' ' || metric || ' ' || value));
