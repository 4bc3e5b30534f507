"""The activities' blueprint: each activity is a plain function, registered here under its own name.

Keeping registration apart leaves the functions callable as they are, in tests and tools.
"""

import azure.durable_functions as df

from activities.aggregates import refresh_aggregates, refresh_ahead
from activities.changes import claim_changes, count_changes, release_changes
from activities.fetch import fetch_pages
from activities.load import load_pages
from activities.logging_ids import with_log_ids
from activities.plan_shards import read_plan_page
from activities.planning import finish_connection, plan_streams
from activities.runs import begin_sync, finish_stream, finish_sync
from activities.sweep import sweep_deletes

bp = df.Blueprint()

for _activity in (begin_sync, plan_streams, read_plan_page, fetch_pages, load_pages, sweep_deletes, finish_stream,
                  finish_connection, refresh_aggregates, refresh_ahead, finish_sync, count_changes, claim_changes,
                  release_changes):
    bp.activity_trigger(input_name="request")(with_log_ids(_activity))
