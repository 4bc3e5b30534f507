"""A record QuickBooks sends without MetaData.LastUpdatedTime is quarantined with its reason, in a query page or
in change data capture, and the rest of its page loads."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from aiohttp import web

from tests.integration.helpers import CONNECTION, REALM, TOKEN, database, sync, truth
from tests.sim_server import serve


def _strip(doc: Any, entity: str, ident: str, note: str | None = None) -> None:
    """Remove LastUpdatedTime from the entity's record `ident` wherever it appears in a response, or with `note`,
    set its PrivateNote to it instead."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key == entity and isinstance(value, list):
                for record in value:
                    if isinstance(record, dict) and record.get("Id") == ident:
                        if note is None:
                            record.get("MetaData", {}).pop("LastUpdatedTime", None)
                        else:
                            record["PrivateNote"] = note
            else:
                _strip(value, entity, ident, note)
    elif isinstance(doc, list):
        for item in doc:
            _strip(item, entity, ident, note)


@pytest.fixture
def broken() -> dict[str, str]:
    """Set entity and id: the simulator then sends that record without its LastUpdatedTime."""
    return {}


@pytest.fixture
def simulator(broken: dict[str, str]) -> Iterator[tuple[object, str]]:
    """The e2e simulator (overridden here), answering through a middleware that can break one record."""
    from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, create_app

    company = DemoCompany.generate(realm_id=REALM, seed=11, customers=20, invoices=300, payments=100)
    state = SimulatorState(companies=[company], clock=SimClock(start=dt.datetime.now(dt.UTC).replace(microsecond=0)),
                           access_tokens={TOKEN})

    @web.middleware
    async def strip_last_updated(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        if broken and response.status == 200 and isinstance(response, web.Response) and response.body:
            doc = json.loads(response.body)
            _strip(doc, broken["entity"], broken["id"], broken.get("note"))
            return web.json_response(doc)  # json.dumps: ASCII, a lone surrogate written as its escape
        return response

    app = create_app(state)
    app.middlewares.append(strip_last_updated)
    with serve(app) as url:
        yield state, url


def counts(pg_dsn: str, stream: str) -> tuple[int, int, str]:
    """(quarantined, updated, status) of the stream in the latest run."""
    with psycopg.connect(pg_dsn) as conn:
        return conn.execute(
            "SELECT quarantined, updated, status FROM sync_run_streams WHERE connection_id = %s AND stream = %s "
            "ORDER BY started_at DESC LIMIT 1", (CONNECTION, stream)).fetchone()


def quarantined(pg_dsn: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(pg_dsn) as conn:
        return conn.execute(
            "SELECT stream, reason, coalesce(payload->>'Id', payload->'record'->>'Id') FROM quarantine "
            "WHERE connection_id = %s ORDER BY quarantined_at", (CONNECTION,)).fetchall()


@pytest.fixture
def clean_quarantine(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM quarantine WHERE connection_id = %s", (CONNECTION,))


def test_a_query_page_record_without_a_last_updated_time_is_quarantined_and_the_page_loads(
        host, simulator, broken, connection, clean_quarantine, pg_dsn):
    state, _ = simulator
    bad = sorted(truth(state, "Invoice"), key=int)[7]
    broken.update(entity="Invoice", id=bad)
    sync(host, "full")
    quarantined_count, _, status = counts(pg_dsn, "Invoice")
    assert (quarantined_count, status) == (1, "succeeded")
    (stream, reason, record_id), = quarantined(pg_dsn)
    assert (stream, record_id) == ("Invoice", bad)
    assert f"Invoice {bad} has no MetaData.LastUpdatedTime" in reason
    expected = {i: r for i, r in truth(state, "Invoice").items() if i != bad}
    assert database(pg_dsn, "qbo_invoice") == expected  # every other invoice, its page included


def test_a_change_without_a_last_updated_time_is_quarantined_and_the_other_changes_load(
        host, simulator, broken, connection, clean_quarantine, pg_dsn):
    state, _ = simulator
    sync(host, "full")
    bad, good = sorted(truth(state, "Invoice"), key=int)[3:5]
    for invoice_id in (bad, good):
        state.update(REALM, "Invoice", invoice_id, {"PrivateNote": "changed"})
    broken.update(entity="Invoice", id=bad)
    sync(host, "incremental")
    assert counts(pg_dsn, "cdc") == (1, 1, "succeeded")
    (stream, reason, record_id), = quarantined(pg_dsn)
    assert (stream, record_id) == ("cdc", bad) and f"Invoice {bad} has no MetaData.LastUpdatedTime" in reason
    assert database(pg_dsn, "qbo_invoice")[good] == truth(state, "Invoice")[good]


def test_a_record_holding_a_lone_surrogate_is_landed_then_quarantined_and_its_page_loads(
        host, simulator, broken, connection, clean_quarantine, pg_dsn):
    # "\ud83d" alone is valid JSON that UTF-8 cannot write: before, landing its page failed on every attempt of the
    # fetch (and PostgreSQL would refuse it too).
    state, _ = simulator
    bad = sorted(truth(state, "Invoice"), key=int)[5]
    broken.update(entity="Invoice", id=bad, note="an emoji cut \ud83d in half")
    sync(host, "full")
    quarantined_count, _, status = counts(pg_dsn, "Invoice")
    assert (quarantined_count, status) == (1, "succeeded")
    (stream, reason, record_id), = quarantined(pg_dsn)
    assert (stream, record_id) == ("Invoice", bad)
    assert reason.startswith("ValueError: PrivateNote holds U+D83D (half of a UTF-16 surrogate pair, alone), which "
                             "PostgreSQL cannot store in text or jsonb")
    expected = {i: r for i, r in truth(state, "Invoice").items() if i != bad}
    assert database(pg_dsn, "qbo_invoice") == expected
