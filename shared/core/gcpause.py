"""The cyclic garbage collector held off while a bulk load builds records, shared by every thread of the process.

A landed page parses into about 100,000 containers that all survive until the page is loaded, so each gen-0
collection only promotes them and the full collections, triggered as the surviving objects pile up, traverse
every object the process holds, again and again. Measured (bench/bench_load.py's pages, CPU time of the load
process): the JSON parse of a 1,000-invoice page took 17.6 ms with the collector and 8.3 ms without, the whole
load 70 ms of CPU per page with it and 56 ms without (52 and 36 ms on the 10%-newer pass).

The records are trees (JSON objects, tuples of plain values) freed by reference counting, so nothing the load
makes waits for the collector. Loads run on a worker's thread pool, several at once: the collector stays off
while at least one of them runs and is switched back on by the last to finish, and only if it was on before the
first began (a host that runs without it keeps it off). Cyclic garbage other threads make meanwhile is collected
after that, at the next collection.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while the block runs (reference counting frees as usual)."""
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
