"""`make demo` syncs what each installed plugin's demo() names; the rows and the printed hints are the same
as when devhost/demo.py spelled out both demo connections itself."""

from __future__ import annotations

import contextlib
import io

import pytest

from devhost import demo
from plugins import registry
from shared.db.connections import Connection

QBO_URL, MONDAY_URL = "http://127.0.0.1:8761", "http://127.0.0.1:8762"


@pytest.fixture(autouse=True)
def simulators_at_their_default_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QBO_BASE_URL", "MONDAY_BASE_URL", registry.EXTRA_SETTING):
        monkeypatch.delenv(name, raising=False)


def test_the_demo_connections_are_the_two_simulator_accounts_in_registry_order():
    sources = demo.demo_sources()
    assert [c for s in sources for c in s.connections] == [
        Connection("qbo-demo", "quickbooks", "Demo company (QuickBooks simulator)",
                   {"realm_id": "9130350000000001", "base_url": QBO_URL,
                    "access_token_secret": "conn-qbo-demo-token"}),
        Connection("monday-demo", "monday", "Demo account (monday.com simulator)",
                   {"api_token_secret": "conn-monday-demo-token", "base_url": MONDAY_URL, "plan": "standard"}),
    ]
    assert [(s.label, s.simulator_url) for s in sources] == [("QuickBooks", QBO_URL), ("monday.com", MONDAY_URL)]
    assert [dict(s.secrets) for s in sources] == [{"conn-qbo-demo-token": "demo-access-token",
                                                   "qbo-webhook-verifier": "local-only-qbo-webhook-verifier"},
                                                  {"conn-monday-demo-token": "demo-monday-token"}]
    # The demo's webhook step: the QuickBooks simulator sends webhooks to the API's route; monday's demo has none.
    assert [s.webhook.route if s.webhook else None for s in sources] == ["/api/webhooks/quickbooks", None]


def test_a_simulator_elsewhere_is_found_through_the_plugins_own_setting(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QBO_BASE_URL", "http://10.0.0.5:9000/")
    monkeypatch.setenv("MONDAY_BASE_URL", "http://10.0.0.6:9001")
    assert [s.simulator_url for s in demo.demo_sources()] == ["http://10.0.0.5:9000", "http://10.0.0.6:9001"]


def test_the_report_suggests_each_sources_query_between_the_run_and_the_metrics(monkeypatch: pytest.MonkeyPatch):
    counters = dict.fromkeys(("pages", "fetched", "inserted", "updated", "unchanged", "deleted", "api_calls"), 0)
    summary = {"mode": "full", "scope": "all", "status": "succeeded", "totals": counters, "errors": [],
               "streams": [{"connection_id": "qbo-demo", "stream": "Invoice", "status": "succeeded", "error": None,
                            **counters}]}
    monkeypatch.setattr(demo, "connect", lambda: contextlib.nullcontext(None))
    monkeypatch.setattr(demo.runs, "run_summary", lambda conn, run_id: summary)
    monkeypatch.setenv("BIZ_PG_DSN", "postgresql://demo@db/biz")
    out = io.StringIO()
    assert demo.report("run-1", 1.0, {"instanceId": "sync-all"}, out=out) == 0
    looks = out.getvalue().split("Look at the data:\n")[1].splitlines()
    assert looks[:4] == [f'  psql "postgresql://demo@db/biz" -c "{query}"' for query in (
        "SELECT stream, fetched, inserted, updated, api_calls FROM sync_run_streams WHERE run_id = 'run-1'",
        "SELECT id, doc_number, txn_date, total_amt, balance FROM qbo_invoice ORDER BY txn_date DESC LIMIT 10",
        "SELECT board_id, count(*), count(*) FILTER (WHERE is_done) AS done FROM monday_item GROUP BY 1",
        "SELECT metric, bucket, value FROM metric_points WHERE grain = 'month' ORDER BY metric, bucket")]
