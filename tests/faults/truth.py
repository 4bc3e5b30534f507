"""The database against the simulator's truth, record by record: the integration tests' comparisons
(tests/integration/helpers.py, monday_helpers.py), plus what a fault could break that they do not look at:
tombstones of records deleted after they were loaded, and rows or pages written twice."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.integration import helpers, monday_helpers
from tests.integration.helpers import CONNECTION, TABLES


def assert_qbo_exact(pg_dsn: str, state: Any, *, tombstoned: dict[str, set[str]] | None = None) -> None:
    """Every live record as the simulator has it; `tombstoned` ids (deleted after a load) are tombstones; every
    transaction's lines once each."""
    helpers.assert_database_equals_simulator(pg_dsn, state)
    with psycopg.connect(pg_dsn) as conn:
        for entity, ids in (tombstoned or {}).items():
            rows = dict(conn.execute(f"SELECT id, deleted_at IS NOT NULL FROM {TABLES[entity]} "
                                     "WHERE connection_id = %s AND id = ANY(%s)", (CONNECTION, list(ids))).fetchall())
            assert rows == dict.fromkeys(ids, True), f"{entity}: deleted records must be tombstones"
        lines = dict(((r[0], r[1]), r[2]) for r in conn.execute(
            "SELECT txn_type, txn_id, count(*) FROM qbo_txn_line WHERE connection_id = %s GROUP BY 1, 2",
            (CONNECTION,)))
    for entity in ("Invoice", "Payment"):
        for ident, record in helpers.truth(state, entity).items():
            assert lines.get((entity, ident), 0) == len(record.get("Line") or []), (entity, ident)


def assert_monday_exact(pg_dsn: str, connection_id: str, account: Any, *, tombstoned: set[str] = frozenset()) -> None:
    """monday_helpers' comparison, and the items deleted after a load are tombstones, not missing rows."""
    monday_helpers.assert_database_equals_simulator(pg_dsn, connection_id, account)
    with psycopg.connect(pg_dsn) as conn:
        _, gone = monday_helpers.database_items(conn, connection_id)
    assert tombstoned <= gone


def assert_each_page_loaded_once(pg_dsn: str, run_id: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        twice = conn.execute("SELECT count(*) - count(DISTINCT page_ref) FROM loaded_pages WHERE run_id = %s",
                             (run_id,)).fetchone()[0]
    assert twice == 0


def inserted(pg_dsn: str, *run_ids: str) -> dict[str, int]:
    """Rows inserted per stream over these runs: a record inserted twice (a page loaded twice) shows here."""
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT stream, sum(inserted) FROM sync_run_streams WHERE run_id = ANY(%s) GROUP BY 1",
                            (list(run_ids),)).fetchall()
    return {stream: int(total) for stream, total in rows}


def qbo_counts(state: Any) -> dict[str, int]:
    return {entity: len(helpers.truth(state, entity)) for entity in TABLES}
