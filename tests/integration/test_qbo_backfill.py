"""A QuickBooks backfill end to end (HTTP starter -> local Durable host -> simulator -> PostgreSQL): it re-reads the
transactions changed since the date and nothing older, corrects a stale row, moves no watermark, and the next
incremental run goes on from where the last one left off."""

from __future__ import annotations

import datetime as dt
import json
import math

import psycopg

from plugins.quickbooks.fields import parse_ts
from tests.api_calls import api_key, call, start_sync
from tests.integration.helpers import CONNECTION, REALM, streams_of, sync, truth

PAGE = 500  # the connection's page_size (conftest)


def backfill(host, since: str) -> tuple[str, dict]:
    instance_id, run_id = start_sync(host, {"connection_id": CONNECTION, "mode": "backfill", "since": since})
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"]["status"] == "succeeded", status["output"]
    return run_id, streams_of(run_id)


def watermarks(pg_dsn: str) -> dict:
    with psycopg.connect(pg_dsn) as conn:
        return {row[0]: row[1:] for row in conn.execute(
            "SELECT stream, watermark, last_run_id, last_success_at FROM stream_state WHERE connection_id = %s",
            (CONNECTION,))}


def changed_since(state, entity: str, start: dt.datetime) -> set[str]:
    return {i for i, r in truth(state, entity).items() if parse_ts(r["MetaData"]["LastUpdatedTime"]) >= start}


def make_stale(pg_dsn: str, invoice_id: str) -> None:
    """The row as an older version that says something else: what a lost change leaves behind."""
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("""UPDATE qbo_invoice SET sync_token = sync_token - 1, private_note = 'stale',
                        payload = jsonb_set(payload, '{PrivateNote}', '"stale"')
                        WHERE connection_id = %s AND id = %s""", (CONNECTION, invoice_id))


def payload(pg_dsn: str, invoice_id: str) -> dict:
    with psycopg.connect(pg_dsn) as conn:
        return conn.execute("SELECT payload FROM qbo_invoice WHERE connection_id = %s AND id = %s",
                            (CONNECTION, invoice_id)).fetchone()[0]


def test_a_backfill_rereads_only_what_changed_since_the_date_and_moves_no_watermark(host, simulator, connection,
                                                                                     pg_dsn):
    state, _ = simulator
    sync(host, "full")
    invoices = sorted(truth(state, "Invoice").values(), key=lambda r: parse_ts(r["MetaData"]["LastUpdatedTime"]))
    # A date with about a fifth of the invoices changed on or after it.
    day = parse_ts(invoices[880]["MetaData"]["LastUpdatedTime"]).astimezone(dt.UTC).date() + dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    recent, older = (next(r["Id"] for r in invoices if parse_ts(r["MetaData"]["LastUpdatedTime"]) >= start),
                     invoices[0]["Id"])
    make_stale(pg_dsn, recent)
    make_stale(pg_dsn, older)
    marks = watermarks(pg_dsn)
    calls = dict(state.stats(REALM)["by_endpoint"])

    run_id, streams = backfill(host, day.isoformat())

    expected = {entity: changed_since(state, entity, start) for entity in ("Invoice", "Payment")}
    assert 0 < len(expected["Invoice"]) < len(invoices)
    # Transactions only (the connection also reads Customer), each from the date: exactly the records changed since.
    assert set(streams) == {"Invoice", "Payment"}
    for entity, ids in expected.items():
        assert streams[entity]["fetched"] == len(ids), entity
        assert streams[entity]["deleted"] == 0  # no sweep
    assert streams["Invoice"]["updated"] == 1 and streams["Payment"]["updated"] == 0
    assert payload(pg_dsn, recent) == truth(state, "Invoice")[recent]  # the stale row since the date is corrected
    assert payload(pg_dsn, older)["PrivateNote"] == "stale"  # an older one was not read at all
    # One query per page of what changed since the date (a short page ends a read); nothing else was asked.
    after = state.stats(REALM)["by_endpoint"]
    pages = sum(math.floor(len(ids) / PAGE) + 1 for ids in expected.values())
    assert {k: after[k] - calls.get(k, 0) for k in after if after[k] != calls.get(k, 0)} == {"query": pages}
    assert watermarks(pg_dsn) == marks  # not one stream's watermark written, the change-data-capture window too

    # The run shows its date; the next incremental run goes on from the last incremental run's window.
    shown = json.loads(call(host, "GET", f"/api/syncs/{run_id}", key=api_key()).get_body())
    assert (shown["mode"], shown["since"]) == ("backfill", day.isoformat())
    assert any("backfill from" in note["note"] for note in shown["notes"])
    state.update(REALM, "Invoice", older, {"PrivateNote": "changed after the backfill"})
    incremental = sync(host, "incremental")
    assert set(incremental) == {"cdc"} and incremental["cdc"]["fetched"] == 1
    assert payload(pg_dsn, older)["PrivateNote"] == "changed after the backfill"
