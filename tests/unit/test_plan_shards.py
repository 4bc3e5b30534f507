"""Which phases plan_streams shards, and the settings that size the shards."""

from __future__ import annotations

import pytest

from activities.plan_shards import DEFAULT_SHARD_STREAMS, DEFAULT_SHARDS_AT_ONCE, shard_settings, store_plan
from shared.core.messages import StreamPlan


def test_the_defaults_size_the_shards_when_nothing_is_set(monkeypatch):
    monkeypatch.delenv("BIZ_SYNC_SHARD_STREAMS", raising=False)
    monkeypatch.delenv("BIZ_SYNC_SHARDS_AT_ONCE", raising=False)
    assert shard_settings() == (DEFAULT_SHARD_STREAMS, DEFAULT_SHARDS_AT_ONCE) == (50, 4)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("BIZ_SYNC_SHARD_STREAMS", "0", "BIZ_SYNC_SHARD_STREAMS must be at least 1"),
    ("BIZ_SYNC_SHARDS_AT_ONCE", "-2", "BIZ_SYNC_SHARDS_AT_ONCE must be at least 1"),
    ("BIZ_SYNC_SHARD_STREAMS", "many", "BIZ_SYNC_SHARD_STREAMS must be a whole number"),
])
def test_a_shard_setting_that_cannot_work_is_refused_naming_it(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        shard_settings()


def test_a_phase_one_shard_holds_travels_as_it_always_did(monkeypatch):
    monkeypatch.setenv("BIZ_SYNC_SHARD_STREAMS", "3")
    streams = [StreamPlan(f"items:{n}", {"board": str(n)}) for n in range(3)]
    assert store_plan("run-1", "m-1", 1, streams) is None  # nothing landed: the plan stays in plan_streams' output
