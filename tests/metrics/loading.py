"""Loading a simulator company's records straight through the plugin and the loader (no HTTP, no host):
the fast path for tests of the aggregation itself. The end-to-end tests sync through the real path."""

from __future__ import annotations

from typing import Any

import psycopg

from plugins.quickbooks.plugin import QuickBooksPlugin
from plugins.quickbooks.streams import STREAMS
from shared.db.connections import Connection, upsert_connection
from shared.db.loader import upsert_records


def register(conn: psycopg.Connection, connection_id: str, config: dict[str, Any] | None = None) -> None:
    upsert_connection(conn, Connection(connection_id, "quickbooks", connection_id, config or {}))


def load_records(conn: psycopg.Connection, connection_id: str, records: dict[str, list[dict[str, Any]]],
                 run_id: str = "test-run") -> None:
    """Upsert every entity's records (as the simulator serves them) in the caller's transaction."""
    plugin = QuickBooksPlugin()
    for entity, rows in records.items():
        if entity not in STREAMS or not rows:
            continue
        upsert_records(conn, plugin.table(entity), connection_id, run_id, (plugin.to_raw(entity, r) for r in rows))


def delete_records(conn: psycopg.Connection, connection_id: str, entity: str, ids: list[str], moment: str,
                   run_id: str = "test-run") -> None:
    """Tombstones, as a CDC `status: Deleted` entry loads them."""
    plugin = QuickBooksPlugin()
    records = [{"Id": i, "status": "Deleted", "MetaData": {"LastUpdatedTime": moment}} for i in ids]
    upsert_records(conn, plugin.table(entity), connection_id, run_id, (plugin.to_raw(entity, r) for r in records))
