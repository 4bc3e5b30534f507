"""The two sources as the fault tests use them: simulators sized by the suite's setting, connections to them.

Sizes: BIZ_FAULTS_RECORDS (default 3,000) is the number of records each source holds in the fault-rate case;
`BIZ_FAULTS_RECORDS=50000` is the full size the issue asks for (tests/faults/README.md).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from aiohttp import web

from shared.db.connections import Connection, upsert_connection
from tests.integration.helpers import CONNECTION, REALM, TABLES, TOKEN, UNMETERED
from tests.integration.monday_helpers import TABLES as MONDAY_TABLES
from tests.integration.monday_helpers import Sim, add_connection, make_state
from tests.sim_server import serve

DEFAULT_RECORDS = 3_000
MONDAY_CONNECTION = "monday-faults"


def records_setting() -> int:
    return int(os.environ.get("BIZ_FAULTS_RECORDS") or DEFAULT_RECORDS)


def qbo_state(records: int, **settings: Any) -> Any:
    """A demo company of about `records` customers, invoices and payments (the three synced entities); `settings`
    go to the simulator's state (OAuth clients and refresh tokens, limits)."""
    from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState

    customers = max(30, records // 25)
    invoices = (records - customers) * 3 // 5
    company = DemoCompany.generate(realm_id=REALM, seed=11, customers=customers, invoices=invoices,
                                   payments=records - customers - invoices)
    # The clock starts now: change data capture reaches back 30 days from the real date.
    return SimulatorState(companies=[company], clock=SimClock(start=dt.datetime.now(dt.UTC).replace(microsecond=0)),
                          **{"access_tokens": {TOKEN}, **settings})


@contextmanager
def serving(app: web.Application, *middlewares: Any) -> Iterator[str]:
    """Serve a simulator's app with test middlewares in front of its own (they see every request first)."""
    for middleware in reversed(middlewares):
        app.middlewares.insert(0, middleware)
    with serve(app) as url:
        yield url


def qbo_connection(pg_dsn: str, url: str, **config: Any) -> str:
    """The QuickBooks connection of the end-to-end tests (tests/integration/helpers.py), in `pg_dsn`'s database."""
    os.environ["SECRET_CONN_QBO_E2E_TOKEN"] = TOKEN
    with psycopg.connect(pg_dsn) as conn:
        for table in (*TABLES.values(), "qbo_txn_line", "stream_state", "metric_points"):
            conn.execute(f"DELETE FROM {table} WHERE connection_id = %s", (CONNECTION,))
        upsert_connection(conn, Connection(CONNECTION, "quickbooks", "Faults company", {
            "realm_id": REALM, "base_url": url, "access_token_secret": f"conn-{CONNECTION}-token",
            "page_size": 500, "retry_base_delay": 0.01, "throttle_wait_seconds": 1, "streams": list(TABLES),
            "reports": False, **UNMETERED, **config}))
    return CONNECTION


def monday_state(records: int) -> Any:
    """A monday account of about `records` items and subitems (4 boards, 1 subitem per item)."""
    return make_state(workspaces=2, boards=4, items_per_board=max(10, records // 8), subitems_per_item=1)


def monday_connection(pg_dsn: str, url: str, **config: Any) -> str:
    """The monday connection of the fault tests (monday_helpers.add_connection: its own budget key, the token)."""
    return add_connection(pg_dsn, MONDAY_CONNECTION, url, **config)


def top_level_items(account: Any) -> list[str]:
    """Ids of the items (not subitems) a sync reads and loads: live, on a board that is not deleted."""
    from tests.integration.monday_helpers import expected_items

    live, _ = expected_items(account)
    return sorted(ident for ident, row in live.items() if row[2] is None)


def monday_sim(state: Any, url: str) -> Sim:
    return Sim(state, url, state.account())


__all__ = ["CONNECTION", "MONDAY_CONNECTION", "MONDAY_TABLES", "TABLES"]
