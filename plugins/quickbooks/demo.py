"""The demo company on the local QuickBooks simulator (sandbox/quickbooks), for `make demo`."""

from __future__ import annotations

import os
from typing import Any

from plugins.base import DemoSource
from shared.db.connections import Connection

# Where scripts/services.sh starts the simulator (sandbox/ports.py); QBO_BASE_URL points elsewhere.
SIMULATOR_URL = "http://127.0.0.1:8761"
CONNECTION_ID = "qbo-demo"
REALM = "9130350000000001"
TOKEN_SECRET = f"conn-{CONNECTION_ID}-token"  # in the connection's own namespace (shared/core/egress.py)
TOKEN = "demo-access-token"  # the simulator's demo credential, not a real secret


def demo_connection(base_url: str, realm: str = REALM, **extra: Any) -> Connection:
    return Connection(
        connection_id=CONNECTION_ID,
        plugin="quickbooks",
        display_name="Demo company (QuickBooks simulator)",
        config={"realm_id": realm, "base_url": base_url, "access_token_secret": TOKEN_SECRET, **extra},
    )


def demo_source() -> DemoSource:
    url = (os.environ.get("QBO_BASE_URL") or SIMULATOR_URL).rstrip("/")
    return DemoSource(
        label="QuickBooks",
        simulator_url=url,
        connections=(demo_connection(url),),
        secrets={TOKEN_SECRET: TOKEN},
        queries=("SELECT id, doc_number, txn_date, total_amt, balance FROM qbo_invoice "
                 "ORDER BY txn_date DESC LIMIT 10",),
    )
