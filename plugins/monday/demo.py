"""The demo account on the local monday.com simulator (sandbox/monday), for `make demo`."""

from __future__ import annotations

import os

from plugins.base import DemoSource
from shared.db.connections import Connection

# Where scripts/services.sh starts the simulator (sandbox/ports.py); MONDAY_BASE_URL points elsewhere.
SIMULATOR_URL = "http://127.0.0.1:8762"
CONNECTION_ID = "monday-demo"
TOKEN_SECRET = f"conn-{CONNECTION_ID}-token"  # in the connection's own namespace (shared/core/egress.py)
TOKEN = "demo-monday-token"  # the monday simulator's demo credential, not a real secret


def demo_connection(base_url: str) -> Connection:
    return Connection(
        connection_id=CONNECTION_ID,
        plugin="monday",
        display_name="Demo account (monday.com simulator)",
        config={"api_token_secret": TOKEN_SECRET, "base_url": base_url, "plan": "standard"},
    )


def demo_source() -> DemoSource:
    url = os.environ.get("MONDAY_BASE_URL", SIMULATOR_URL)
    return DemoSource(
        label="monday.com",
        simulator_url=url,
        connections=(demo_connection(url),),
        secrets={TOKEN_SECRET: TOKEN},
        queries=("SELECT board_id, count(*), count(*) FILTER (WHERE is_done) AS done FROM monday_item GROUP BY 1",),
    )
