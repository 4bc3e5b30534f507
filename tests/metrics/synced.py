"""A generated company served by the QuickBooks simulator and synced through the real path (HTTP starter ->
local Durable host -> plugin -> landing zone -> loader, whose transaction refreshes the metrics)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from shared.db.connections import Connection, upsert_connection
from tests.api_calls import start_sync
from tests.sim_server import serve

TOKEN = "metrics-e2e-token"
STREAMS = ["CompanyInfo", "Preferences", "Customer", "Invoice", "Payment", "SalesReceipt", "CreditMemo",
           "RefundReceipt", "Bill", "BillPayment", "Purchase"]


@contextmanager
def simulator(companies: list[Any]) -> Iterator[tuple[Any, str]]:
    from sandbox.quickbooks import SimClock, SimulatorState, create_app

    # The clock starts now: change data capture reaches back 30 days from the real date.
    state = SimulatorState(companies=companies, clock=SimClock(start=dt.datetime.now(dt.UTC).replace(microsecond=0)),
                           access_tokens={TOKEN})
    with serve(create_app(state)) as url:
        yield state, url


def register(pg_dsn: str, connection_id: str, realm: str, url: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        upsert_connection(conn, Connection(connection_id, "quickbooks", f"Metrics {connection_id}", {
            "realm_id": realm, "base_url": url, "access_token_secret": f"conn-{connection_id}-token", "page_size": 1000,
            "retry_base_delay": 0.01, "throttle_wait_seconds": 1, "streams": STREAMS,
            # The report stream (in progress elsewhere) is not what these tests are about.
            "reports": False}))


def sync(host: Any, connection_id: str, mode: str) -> dict[str, Any]:
    instance_id, _ = start_sync(host, {"connection_id": connection_id, "mode": mode})
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"]["status"] == "succeeded", status["output"]
    return status["output"]


def truth(state: Any, realm: str) -> dict[str, list[dict[str, Any]]]:
    """Every record the simulator holds now, per entity (hard-deleted ones are gone)."""
    return {entity: state.records(realm, entity) for entity in STREAMS}
