"""Plugins open no database connection: what a plugin keeps in storage it reaches through the store its activity
lends it (plugins.base.SourcePlugin.storage), and only a plugin's storage module runs SQL.

A plugin's own entry points are hosts like the activities: its HTTP routes (`routes.py`) and command lines
(`*_cli.py`) open the connection they lend to the plugin's code (e.g. the OAuth consent flow)."""

from __future__ import annotations

import re
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
# Opening a connection, or running a statement on one.
DATABASE_USE = re.compile(r"from shared\.db\.connect import|psycopg\.connect\(|\.execute\(|\.cursor\(|\bconnect\(\)")
RUNS_SQL = re.compile(r"\.execute\(|\.cursor\(")


def database_users() -> set[str]:
    return {str(path.relative_to(PLUGINS)) for path in PLUGINS.rglob("*.py")
            if not _lends(path) and DATABASE_USE.search(path.read_text())}


def _lends(path: Path) -> bool:
    """A storage module, or an entry point that opens the connection it lends."""
    return path.name in ("storage.py", "routes.py") or path.name.endswith("_cli.py")


def test_no_plugin_module_but_a_storage_module_opens_a_connection_or_runs_sql():
    assert database_users() == set()


def test_entry_points_lend_a_connection_but_run_no_sql_themselves():
    lenders = [path for path in PLUGINS.rglob("*.py") if _lends(path) and path.name != "storage.py"]
    assert lenders, "the QuickBooks consent routes and command line are entry points"
    assert [str(p.relative_to(PLUGINS)) for p in lenders if RUNS_SQL.search(p.read_text())] == []


def test_the_check_sees_each_way_of_reaching_the_database():
    for line in ("from shared.db.connect import connect", "psycopg.connect(dsn)", "conn.execute('SELECT 1')",
                 "conn.cursor()", "with connect() as conn:"):
        assert DATABASE_USE.search(line), line
