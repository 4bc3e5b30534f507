-- legacy: 0022_monday_metrics
-- monday.com metrics (plugins/monday/metrics.py): dirty-marking triggers on the raw table the catalog reads.
-- Items created / completed and open items are bucketed by the local date of created_at and done_at in the
-- connection's time zone: the trigger marks each timestamp's UTC day and both neighbours (`@ts`).
SELECT metric_watch('monday_item', ARRAY['r.created_at@ts', 'r.done_at@ts'],
    ARRAY['r.created_at', 'r.done_at', 'r.is_done', 'r.state', 'r.deleted_at', 'r.parent_item_id', 'r.board_id', 'r.group_id', 'r.creator_id']);
