"""`make demo`'s webhook step (devhost/webhook_demo.py) against the test stack: the in-process QuickBooks simulator,
the test database and Azurite. The step serves the API, points the simulator's webhooks at it, adds a line to an
invoice, and sees "Revenue invoiced" for that invoice's month move by the line's amount in metric_points."""

from __future__ import annotations

import io

import psycopg
import pytest

from plugins import registry
from plugins.base import DemoSource
from plugins.quickbooks.demo import RAISE, _latest_home_currency_invoice, webhook_demo
from shared.changes.queue import QUEUE_NAME
from shared.metrics import refresh_dirty
from tests.integration.helpers import CONNECTION, REALM, TOKEN, sync
from tests.integration.webhook_e2e import change_queue, change_queue_client

pytestmark = pytest.mark.integration
VERIFIER = "verifier-of-the-demo-step-test-0123456789"
__all__ = ["change_queue"]  # a fixture the test uses


@pytest.mark.parametrize("stored_ahead", [False, True], ids=["fresh", "simulator-restarted"])
def test_the_demos_webhook_step_moves_the_metric_by_the_change(simulator, connection, pg_dsn, tmp_path, monkeypatch,
                                                                change_queue, stored_ahead: bool):
    """simulator-restarted: the latest invoice's stored copy is newer than the simulator's (an earlier demo changed
    it in a simulator since started again, which regenerated its company): the step changes another invoice."""
    from devhost import LocalDurableHost
    from devhost.webhook_demo import show
    from function_app import app

    state, url = simulator
    monkeypatch.setenv("SECRET_QBO_WEBHOOK_VERIFIER", VERIFIER)
    monkeypatch.setenv("BIZ_CHANGE_DEBOUNCE_SECONDS", "1")
    monkeypatch.setenv("BIZ_CHANGE_MAX_WAIT_SECONDS", "10")
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM pending_changes WHERE connection_id = %s", (connection,))
        conn.commit()
    source = DemoSource("QuickBooks", url, (), webhook=webhook_demo(url, realm=REALM, connection_id=CONNECTION,
                                                                    token=TOKEN))
    out = io.StringIO()
    with LocalDurableHost(app, tmp_path / "demo.sqlite", queue_names={QUEUE_NAME: change_queue}) as host:
        sync(host, "full")
        with psycopg.connect(pg_dsn) as conn:
            ahead = _latest_home_currency_invoice(conn, url, REALM, TOKEN, "a connection with nothing stored")["Id"]
        if stored_ahead:
            with psycopg.connect(pg_dsn) as conn:
                conn.execute("UPDATE qbo_invoice SET sync_token = sync_token + 3, total_amt = total_amt + %s "
                             "WHERE connection_id = %s AND id = %s", (RAISE, connection, ahead))
                refresh_dirty(conn, connection, registry.metric_catalogs())  # the series agree with the rows
        [moved] = show(host, [source], out=out, timeout=60, change_queue=change_queue_client(change_queue))

    printed = out.getvalue()
    assert moved.moved, printed
    assert moved.before is not None and moved.after == moved.before + RAISE, printed
    assert moved.runs and all(status == "succeeded" for _, status in moved.runs), moved.runs
    assert "before" in printed and "after" in printed and "s from the change" in printed, printed
    # The simulator's invoice and its row agree on the raised total, and the simulator sends no more webhooks.
    ident = next(i["Id"] for i in state.records(REALM, "Invoice")
                 if any(line.get("Description") == "Added by the webhook demo" for line in i["Line"]))
    with psycopg.connect(pg_dsn) as conn:
        (total,) = conn.execute("SELECT total_amt FROM qbo_invoice WHERE connection_id = %s AND id = %s",
                                (connection, ident)).fetchone()
    assert total == state.get(REALM, "Invoice", ident)["TotalAmt"]
    assert (ident != ahead) == stored_ahead
    assert state.webhooks.describe()["url"] is None
