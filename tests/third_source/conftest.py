"""Fixtures of the example source: installed through the registry's setting only, its simulator, a connection."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from plugins import registry
from shared.db.connections import Connection, upsert_connection
from tests.sim_server import serve
from tests.third_source.simulator import HelpdeskState, create_app

MODULE = "tests.third_source"
TOKEN = "helpdesk-test-token"
SECRET = "helpdesk-e2e-token"
TIMEZONE = "America/New_York"


@dataclass
class Helpdesk:
    state: HelpdeskState
    url: str
    connection_id: str


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example source joins the installed plugins the way any source from outside plugins/ does."""
    monkeypatch.setenv(registry.EXTRA_SETTING, MODULE)


@pytest.fixture
def helpdesk(installed: None, pg_dsn: str, landing_container: str,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Helpdesk]:
    """A simulator with 230 tickets and a connection of its own to it (removed afterwards: once the test is over
    the plugin is no longer installed, and a later sync of every connection must not meet it)."""
    state = HelpdeskState.generate(tickets=230, token=TOKEN)
    connection_id = f"helpdesk-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SECRET_HELPDESK_E2E_TOKEN", TOKEN)
    with serve(create_app(state)) as url:
        with psycopg.connect(pg_dsn) as conn:
            upsert_connection(conn, Connection(connection_id, "helpdesk", "Helpdesk e2e", {
                "base_url": url, "api_token_secret": SECRET, "page_size": 50, "retry_base_delay": 0.01,
                "timezone": TIMEZONE}))
        yield Helpdesk(state, url, connection_id)
    with psycopg.connect(pg_dsn) as conn:
        for table in ("metric_points", "metric_state", "metric_dirty"):
            conn.execute(f"DELETE FROM {table} WHERE connection_id = %s", (connection_id,))
        if conn.execute("SELECT to_regclass('helpdesk_ticket')").fetchone()[0]:
            conn.execute("DELETE FROM helpdesk_ticket WHERE connection_id = %s", (connection_id,))
        conn.execute("DELETE FROM connections WHERE connection_id = %s", (connection_id,))


@pytest.fixture
def host(tmp_path):
    from devhost import LocalDurableHost
    from function_app import app

    return LocalDurableHost(app, tmp_path / "devhost.sqlite", virtual_time=True)
