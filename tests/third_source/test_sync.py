"""The example source end to end: installed by the registry's setting alone, it syncs through the HTTP starter,
the real orchestrators on the local Durable host, the landing zone and the loader into its own table, and its
metric is refreshed and read back through the metric data layer."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from plugins import registry
from shared.metrics.series import MetricReader, SeriesQuery
from tests.api_calls import start_sync
from tests.integration.helpers import streams_of
from tests.third_source.conftest import TIMEZONE, Helpdesk

pytestmark = pytest.mark.integration
COUNTS = ("fetched", "inserted", "updated", "unchanged", "deleted")


def sync(host, connection_id: str, mode: str) -> dict[str, Any]:
    """One run of one connection started like an operator starts it; the tickets stream's counts."""
    instance_id, run_id = start_sync(host, {"connection_id": connection_id, "mode": mode})
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"]["status"] == "succeeded", status["output"]
    streams = streams_of(run_id)
    assert set(streams) == {"tickets"}
    return streams["tickets"]


def loaded(pg_dsn: str, connection_id: str) -> dict[str, dict[str, Any]]:
    """The live tickets in the plugin's table, by id: their payload as the API sent it."""
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT id, payload FROM helpdesk_ticket WHERE connection_id = %s AND deleted_at IS NULL",
                            (connection_id,)).fetchall()
    return dict(rows)


def series(pg_dsn: str, connection_id: str, metric: str, dimension: str = "") -> dict[str, dict[dt.date, float]]:
    """A metric as the API reads it: the data layer, through the read-only role, checked against the catalogs."""
    reader = MetricReader(pg_dsn, catalogs=registry.metric_catalogs())
    found = reader.series(SeriesQuery(connection_id, metric, grain="day", dimension=dimension))
    return {member: dict(s.points()) for member, s in found.items()}


def expected(tickets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The oracle: tickets opened and their amount per local day of creation, in total and per status."""
    zone = ZoneInfo(TIMEZONE)
    opened: dict[str, Counter] = defaultdict(Counter)
    amount: dict[str, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for ticket in tickets.values():
        day = dt.datetime.fromisoformat(ticket["created_at"].replace("Z", "+00:00")).astimezone(zone).date()
        for member in ("", ticket["status"]):
            opened[member][day] += 1
            amount[member][day] += Decimal(ticket["amount"])
    return {
        "opened": {m: {d: float(n) for d, n in days.items()} for m, days in opened.items()},
        "amount": {m: {d: float(v) for d, v in days.items()} for m, days in amount.items()},
    }


def metrics(pg_dsn: str, connection_id: str) -> dict[str, Any]:
    opened = series(pg_dsn, connection_id, "helpdesk.tickets_opened") | series(
        pg_dsn, connection_id, "helpdesk.tickets_opened", "status")
    amount = series(pg_dsn, connection_id, "helpdesk.ticket_amount") | series(
        pg_dsn, connection_id, "helpdesk.ticket_amount", "status")
    return {"opened": opened, "amount": amount}


def test_a_source_from_outside_plugins_syncs_full_then_incremental_into_its_table_with_its_metric(
        host, helpdesk: Helpdesk, pg_dsn: str):
    sim, cid = helpdesk.state, helpdesk.connection_id
    first = sync(host, cid, "full")
    # 230 tickets in pages of 50: five calls, every ticket new.
    assert {k: first[k] for k in (*COUNTS, "api_calls")} == {
        "fetched": 230, "inserted": 230, "updated": 0, "unchanged": 0, "deleted": 0, "api_calls": 5}
    assert loaded(pg_dsn, cid) == sim.live()
    assert metrics(pg_dsn, cid) == expected(sim.live())

    sim.update(7, status="solved", amount="99.50")
    sim.create("Printer on fire", amount="12.25")
    second = sync(host, cid, "incremental")
    # Only the changed ticket and the new one come back, in one call.
    assert {k: second[k] for k in (*COUNTS, "api_calls")} == {
        "fetched": 2, "inserted": 1, "updated": 1, "unchanged": 0, "deleted": 0, "api_calls": 1}
    assert loaded(pg_dsn, cid) == sim.live()
    assert metrics(pg_dsn, cid) == expected(sim.live())

    third = sync(host, cid, "incremental")
    assert third["fetched"] == 0


def test_a_reported_delete_is_tombstoned_by_an_incremental_run_an_unreported_one_by_the_next_complete_read(
        host, helpdesk: Helpdesk, pg_dsn: str):
    sim, cid = helpdesk.state, helpdesk.connection_id
    sync(host, cid, "full")
    sim.delete(11)  # the API lists it as a tombstone from now on
    sim.purge(12)  # gone without a trace
    incremental = sync(host, cid, "incremental")
    assert (incremental["fetched"], incremental["deleted"]) == (1, 1)
    assert set(loaded(pg_dsn, cid)) == set(sim.live()) | {"12"}
    complete = sync(host, cid, "full")
    assert (complete["fetched"], complete["inserted"], complete["deleted"]) == (228, 0, 1)
    assert loaded(pg_dsn, cid) == sim.live()
    assert metrics(pg_dsn, cid) == expected(sim.live())


def test_a_throttled_page_is_waited_out_on_a_durable_timer_and_the_read_completes(
        host, helpdesk: Helpdesk, pg_dsn: str):
    helpdesk.state.throttle(2, retry_after=45)
    first = sync(host, helpdesk.connection_id, "full")
    assert (first["throttle_waits"], first["fetched"]) == (2, 230)
    assert loaded(pg_dsn, helpdesk.connection_id) == helpdesk.state.live()
