"""Plugins open no database connection: what a plugin keeps in storage it reaches through the store its activity
lends it (plugins.base.SourcePlugin.storage), and only a plugin's storage module runs SQL."""

from __future__ import annotations

import re
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
# Opening a connection, or running a statement on one.
DATABASE_USE = re.compile(r"from shared\.db\.connect import|psycopg\.connect\(|\.execute\(|\.cursor\(|\bconnect\(\)")
# Not yet through the interface: QuickBooks' consent flow runs from its HTTP routes and command line, where no
# activity lends a connection; it opens one (shared/db/connect.py) and runs no SQL of its own (shared/db does).
NOT_YET = {"quickbooks/consent.py"}


def database_users() -> set[str]:
    return {str(path.relative_to(PLUGINS)) for path in PLUGINS.rglob("*.py")
            if path.name != "storage.py" and DATABASE_USE.search(path.read_text())}


def test_no_plugin_module_but_a_storage_module_opens_a_connection_or_runs_sql():
    assert database_users() - NOT_YET == set()


def test_the_modules_still_waiting_for_the_interface_are_named_until_they_move():
    # When one of them stops touching the database, it leaves NOT_YET too.
    assert database_users() >= NOT_YET

