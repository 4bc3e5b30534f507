"""At most LOADS_PER_WORKER load_pages calls run at once in one process (activities/load.py, _load_slots): a split
read's chains load side by side in one worker, each holding a parsed page, so the slots bound the worker's memory.
The other calls wait, then run; none is lost."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from activities import load as load_activity
from shared.core.config import load_settings
from shared.core.messages import LoadCounts, LoadRequest, PageRef


def test_no_more_loads_run_at_once_than_the_worker_has_slots_and_every_one_runs(monkeypatch):
    monkeypatch.setenv("LOADS_PER_WORKER", "2")
    lock = threading.Lock()
    running: list[int] = [0]
    most: list[int] = [0]
    ran: list[str] = []
    counted: list[int] = []

    def load(asked, settings, **options):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            counted.append(load_activity._RUNNING.count)  # what a load's read-ahead asks: am I alone?
        time.sleep(0.05)
        with lock:
            running[0] -= 1
            ran.append(asked.pages[0].ref)
        return LoadCounts(pages=1, fetched=10, inserted=10).to_json(), "quickbooks", False

    monkeypatch.setattr(load_activity, "_load", load)
    requests = [LoadRequest("run", "c", "Invoice", [PageRef(f"p/{n}", 10)]).to_json() for n in range(6)]
    with ThreadPoolExecutor(max_workers=6) as workers:
        results = list(workers.map(load_activity.load_pages, requests))
    assert most[0] == 2
    assert set(counted) <= {1, 2} and 2 in counted and load_activity._RUNNING.count == 0
    assert sorted(ran) == [f"p/{n}" for n in range(6)]
    assert [r["inserted"] for r in results] == [10] * 6
    # A call that waited for its slot reports the wait in its seconds: sync_stream compares that with its fetch.
    assert max(r["seconds"] for r in results) >= 0.1


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_worker_without_a_load_slot_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv("LOADS_PER_WORKER", value)
    with pytest.raises(ValueError, match="LOADS_PER_WORKER must be at least 1"):
        load_settings()


def test_five_loads_at_once_unless_set(monkeypatch):
    monkeypatch.delenv("LOADS_PER_WORKER", raising=False)
    assert load_settings().loads_per_worker == 5
