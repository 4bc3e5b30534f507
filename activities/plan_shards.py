"""A phase of more streams than one orchestration should hold is run in shards: plan_streams lands its streams as
blobs of at most BIZ_SYNC_SHARD_STREAMS each (store_plan), and each sync_shard reads its own (read_plan_page).

So neither plan_streams' output nor any orchestration's input or history grows with the number of streams (a
source with one stream per board, project or file may plan thousands in one phase).
"""

from __future__ import annotations

import uuid
from typing import Any

from shared.blob.landing import LandingZone, plan_ref, plan_shard_ref
from shared.core.config import int_setting, load_settings
from shared.core.messages import PlanPage, ShardRequest, StoredPlan, StreamPlan

SHARD_STREAMS_SETTING = "BIZ_SYNC_SHARD_STREAMS"
SHARDS_AT_ONCE_SETTING = "BIZ_SYNC_SHARDS_AT_ONCE"
# A shard's history holds two events per stream (its sub-orchestration created and completed) plus a few: 50
# streams keep it near 110 events, within the few hundred the Durable docs advise per history (replay reads the
# whole history on every episode), and its page of stream plans under the 45 KB past which the Azure Storage
# provider moves a message to a blob.
DEFAULT_SHARD_STREAMS = 50
# Shards run side by side in waves (sync_phase): at most this many shards' streams sync at once.
DEFAULT_SHARDS_AT_ONCE = 4


def shard_settings() -> tuple[int, int]:
    """(streams per shard, shards at once), checked."""
    return (int_setting(SHARD_STREAMS_SETTING, DEFAULT_SHARD_STREAMS, minimum=1, unit=" (streams)"),
            int_setting(SHARDS_AT_ONCE_SETTING, DEFAULT_SHARDS_AT_ONCE, minimum=1, unit=" (shards)"))


def store_plan(run_id: str, connection_id: str, phase: int, streams: list[StreamPlan]) -> StoredPlan | None:
    """Land the streams as shards when they are more than one shard holds; None: few enough to pass as they are."""
    size, at_once = shard_settings()
    if len(streams) <= size:
        return None
    settings = load_settings()
    landing = LandingZone(settings.storage, settings.landing_container)
    ref = plan_ref(connection_id, run_id, phase, uuid.uuid4().hex[:12])
    shards = [streams[start:start + size] for start in range(0, len(streams), size)]
    for index, shard in enumerate(shards):
        landing.put_page(plan_shard_ref(ref, index), (plan.to_json() for plan in shard))
    return StoredPlan(ref, len(streams), len(shards), size, at_once)


def read_plan_page(request: dict[str, Any]) -> dict[str, Any]:
    """The stream plans of one shard."""
    asked = ShardRequest.from_json(request)
    settings = load_settings()
    landing = LandingZone(settings.storage, settings.landing_container)
    records = landing.read_page(plan_shard_ref(asked.ref, asked.shard))
    return PlanPage([StreamPlan.from_json(record) for record in records]).to_json()
