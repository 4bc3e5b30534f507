"""The CDC step machine against a model service, for every way a full answer may choose its 1,000: every
change since the window's start is either loaded, left to a complete read, or still ahead of the next window."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from plugins.quickbooks import cdc
from plugins.quickbooks.fields import parse_ts
from sandbox.quickbooks.cdc_selection import SELECTIONS, CdcSelection

START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
ENTITIES = ["Invoice", "Payment", "Customer", "Bill"]


def change_log(rng: random.Random) -> list[tuple[dt.datetime, int, int, str, dict]]:
    """Random bursts per entity, many sharing a second (as bulk imports do); some are deletes."""
    log = []
    for order, entity in enumerate(ENTITIES):
        for ident in range(rng.choice([0, 10, 400, 990, 1000, 1700])):
            moment = START + dt.timedelta(seconds=rng.randrange(0, 3000))
            record = {"Id": str(ident), "MetaData": {"LastUpdatedTime": moment.isoformat()}}
            if rng.random() < 0.1:
                record["status"] = "Deleted"
            log.append((moment, order, ident, entity, record))
    return log


def run_window(log, selection: CdcSelection, since: str) -> tuple[set[tuple[str, str]], dict]:
    """Drive one incremental CDC stream to its end; returns what it loaded and the watermark it stored last."""
    server_time = (START + dt.timedelta(hours=2)).isoformat()
    cursor = cdc.start_cursor(since, ENTITIES)
    loaded: set[tuple[str, str]] = set()
    while True:
        asked = cdc.entities_to_ask(cursor)
        found = [c for c in log if c[3] in asked and c[0] >= parse_ts(cursor["since"])]
        objects = [(entity, record) for _, _, _, entity, record in selection.choose(found, cdc.MAX_OBJECTS)]
        step = cdc.step(cursor, objects, server_time)
        loaded |= {(e["entity"], e["record"]["Id"]) for e in step.records}
        if step.next_cursor is None:
            return loaded, step.watermark
        cursor = step.next_cursor


@pytest.mark.parametrize("selection", SELECTIONS)
@pytest.mark.parametrize("seed", range(6))
def test_no_change_is_skipped_whichever_thousand_a_full_answer_holds(selection, seed):
    rng = random.Random(seed)
    log = change_log(rng)
    loaded, mark = run_window(log, CdcSelection(selection, seed), START.isoformat())
    complete_reads = set(mark.get("complete_reads", []))
    after = mark.get("pending", mark)
    next_since, next_seen = parse_ts(after["since"]), after["seen"]
    for moment, _, ident, entity, _ in log:
        if (entity, str(ident)) in loaded or entity in complete_reads:
            continue
        # Not loaded now: the next window must still reach it.
        assert moment > next_since or (moment == next_since and str(ident) not in next_seen.get(entity, [])), \
            (entity, ident, moment, after)
    # An entity goes to a complete read only when its own answer was at the cap.
    for entity in complete_reads:
        assert sum(1 for c in log if c[3] == entity) >= cdc.MAX_OBJECTS
    if complete_reads:
        assert (mark["since"], mark["seen"]) == (START.isoformat(), {})  # the stored window waits for them
