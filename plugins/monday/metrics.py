"""monday.com metrics over `monday_item` (migrations/0020_monday_raw.sql), bucketed by the local date of monday's
timestamps in the connection's time zone (`timezone` in connections.config, an IANA name; UTC when unset).

Which items count:
- top-level items only: subitems (parent_item_id set) are steps of an item, counted nowhere, so an item with ten
  subitems is one unit of throughput;
- deleted items count nowhere: a tombstone (deleted_at set: deleted in monday, on a deleted board, or no longer
  found) or state 'deleted';
- archived items count in items created / completed and cycle time (they were created and completed), but not in
  open items: monday_item has no archive timestamp, so an archived item leaves the open balance for its whole
  history rather than at the day it was archived.

Completion: `is_done AND done_at IS NOT NULL`, where is_done / done_at come from the board's main status column
(a done label or colour; done_at is when that status was set, the column value's changed_at). The view
monday_item_completion prefers the activity log's time; it is not read here because it joins the log, whose
rows' marks would be lower bounds only (see shared/metrics/README.md). An item moved out of done stops counting
as completed; moved to done again, it counts at its new done_at.
"""

from __future__ import annotations

from shared.metrics.catalog import Aggregation, Metric, PluginMetrics, Source, Unit

PLUGIN = "monday"
ITEM = "monday_item"
# Live top-level items: not tombstoned, not deleted, not a subitem.
LIVE_ITEM = ("r.deleted_at IS NULL", "r.state IS DISTINCT FROM 'deleted'", "r.parent_item_id IS NULL")
DONE = ("r.is_done", "r.done_at IS NOT NULL")
NOT_ARCHIVED = ("r.state IS DISTINCT FROM 'archived'",)
# Group ids repeat across boards ("topics" on every board): a group is "<board id>:<group id>", monday_group.id.
DIMENSIONS = (("board", "r.board_id"), ("group", "concat(r.board_id, ':', r.group_id)"), ("person", "r.creator_id"))
CYCLE_DAYS = "extract(epoch FROM r.done_at - r.created_at) / 86400"
READS = ("r.created_at", "r.done_at", "r.is_done", "r.state", "r.deleted_at", "r.parent_item_id", "r.board_id",
         "r.group_id", "r.creator_id")


def _item(date: str, *, value: str = "1", label: str = "", filters: tuple[str, ...] = (),
          dims: tuple[tuple[str, str], ...] = DIMENSIONS) -> Source:
    return Source(ITEM, date, value, label=label, filters=filters, live=LIVE_ITEM, dimensions=dims, reads=READS,
                  timestamp=True)


CREATED = _item("r.created_at", filters=("r.created_at IS NOT NULL",))
COMPLETED = _item("r.done_at", filters=DONE)
CYCLE = _item("r.done_at", value=CYCLE_DAYS, filters=(*DONE, "r.created_at IS NOT NULL"))
OPENED = _item("r.created_at", label="created", filters=("r.created_at IS NOT NULL", *NOT_ARCHIVED), dims=())
CLOSED = _item("r.done_at", value="-1", label="completed",
               filters=(*DONE, "r.created_at IS NOT NULL", *NOT_ARCHIVED), dims=())

_M = PLUGIN
_OPS = ("operations",)
_BREAKDOWNS = ("board", "group", "person")
METRICS: tuple[Metric, ...] = (
    Metric("monday.items_created", "Items created", _M, Aggregation.COUNT, Unit.COUNT, (CREATED,),
           "Top-level items (no subitems) by the local date they were created; deleted items excluded. "
           "Per board, group (board:group) and person (the item's creator).", _BREAKDOWNS, _OPS),
    Metric("monday.items_completed", "Items completed (throughput)", _M, Aggregation.COUNT, Unit.COUNT, (COMPLETED,),
           "Top-level items whose main status is done, by the local date it was set to done; deleted items "
           "excluded. Per board, group (board:group, the item's current group) and person (creator).",
           _BREAKDOWNS, _OPS),
    Metric("monday.open_items", "Open items", _M, Aggregation.BALANCE, Unit.COUNT, (OPENED, CLOSED),
           "Top-level items open at the end of each bucket: +1 at created, -1 when set to done. Deleted and "
           "archived items count nowhere (monday_item has no archive date).", (), _OPS),
    Metric("monday.cycle_time", "Cycle time (mean)", _M, Aggregation.AVG, Unit.DAYS, (CYCLE,),
           "Mean days from created to done of the top-level items completed in the bucket. Per board, group and "
           "person.", _BREAKDOWNS, _OPS),
    Metric("monday.cycle_time_median", "Cycle time (median)", _M, Aggregation.MEDIAN, Unit.DAYS, (CYCLE,),
           "Median days from created to done of the top-level items completed in the bucket (interpolated "
           "between the two middle items of an even count). Per board, group and person.", _BREAKDOWNS, _OPS),
)

CATALOG = PluginMetrics(plugin=PLUGIN, metrics=METRICS, fiscal_start_sql=None)
