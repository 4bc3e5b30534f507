"""load_pages reads the next page ahead while PostgreSQL writes the one before, only while it is the only load of
its process (activities/load.py, _RUNNING): the chains of a split read load side by side in one worker, and a page
read ahead holds its parsed records (about 10 MB for 1,000 invoices). Beside other loads, each page is read a part at
a time as its load takes the parts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from activities import load as load_activity
from shared.core.messages import PageRef


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The refs whose read was started, in order: a page read ahead as it is handed to the reader thread (not when
    it runs), a page read as its load takes it when its reader is made; each read's one part is its ref."""
    asked: list[str] = []

    class Reader(ThreadPoolExecutor):
        def submit(self, fn, *args, **kwargs):
            asked.append(args[3])  # _read_whole(plugin, stream, landing, ref, keep_ids)
            return super().submit(fn, *args, **kwargs)

    def read_parts(plugin, stream, landing, ref, keep_ids):
        asked.append(ref)
        return iter([ref])

    monkeypatch.setattr(load_activity, "ThreadPoolExecutor", Reader)
    monkeypatch.setattr(load_activity, "_read_whole", lambda plugin, stream, landing, ref, keep_ids: [ref])
    monkeypatch.setattr(load_activity, "_read_parts", read_parts)
    return asked


def pages(name: str, count: int) -> list[PageRef]:
    return [PageRef(f"{name}/{n}", 10) for n in range(count)]


def ahead(name: str, count: int):
    return load_activity._read_ahead(None, "Invoice", None, pages(name, count), keep_ids=False)


def test_a_load_alone_reads_each_next_page_ahead_and_every_page_once_in_order(reads):
    loaded = []
    for page, reading in ahead("a", 4):
        loaded.extend(reading)
        # The next page was asked for before this one's load (the read ahead), the last has none.
        assert reads[-1] == f"a/{min(int(page.ref[2:]) + 1, 3)}"
    assert loaded == reads == [f"a/{n}" for n in range(4)]


def test_a_load_beside_another_reads_no_page_ahead(reads):
    # Two loads run in the process (in their slots): both keep the cores busy, so neither holds a page ahead.
    with load_activity._RUNNING.one(), load_activity._RUNNING.one():
        for page, reading in ahead("a", 3):
            assert reads[-1] == page.ref  # only the page being loaded was asked for
            assert list(reading) == [page.ref]
    assert reads == ["a/0", "a/1", "a/2"]
    assert load_activity._RUNNING.count == 0
