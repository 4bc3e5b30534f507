"""A generated demo company synced through the real path, plus its Profit and Loss reports (the report sync
is another engineer's work in progress, switched off here: the reports are built from the simulator's own
P&L and loaded with the plugin's report table spec) and one OAuth token row (the demo uses a static token)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest

from plugins.quickbooks import reports
from sandbox.quickbooks.datagen import generate_company
from shared.core.secrets import env_name
from shared.db.loader import RawRecord, upsert_records
from tests.metrics.synced import TOKEN, register, simulator, sync

REALM = "9130350000000066"
CONNECTION = "grafana-demo"
MONDAY_CONNECTION = "grafana-monday-demo"
AS_OF = dt.date(2026, 11, 1)


def load_profit_and_loss(conn: psycopg.Connection, state, realm: str, connection_id: str, start: dt.date,
                         end: dt.date) -> int:
    from sandbox.quickbooks.reports import build_report

    loaded = 0
    for first, last in reports.report_windows(start, end):
        doc = build_report(state, realm, "ProfitAndLoss", {
            "start_date": first.isoformat(), "end_date": last.isoformat(), "accounting_method": "Accrual",
            "summarize_column_by": "Month"})
        record = reports.report_record("ProfitAndLoss", "Accrual", first, last, doc)
        raw = RawRecord(id=reports.report_id(record), updated_at=reports.report_generated_at(doc), payload=doc,
                        typed=reports.REPORT_FIELDS.read(record), columns=reports.REPORT_FIELDS.names)
        loaded += upsert_records(conn, reports.REPORT_TABLE, connection_id, "pnl-fixture", [raw]).inserted
    return loaded


@pytest.fixture(scope="session")
def grafana_demo(pg_dsn: str, landing_container: str, tmp_path_factory) -> Iterator[str]:
    from devhost import LocalDurableHost
    from function_app import app

    company = generate_company(REALM, seed=31, records=1500, years=3)
    with simulator([company]) as (state, url), pytest.MonkeyPatch.context() as patch:
        patch.setenv(env_name(f"conn-{CONNECTION}-token"), TOKEN)
        register(pg_dsn, CONNECTION, REALM, url)
        host = LocalDurableHost(app, tmp_path_factory.mktemp("grafana") / "devhost.sqlite", virtual_time=True)
        sync(host, CONNECTION, "full")
        with psycopg.connect(pg_dsn) as conn:
            assert load_profit_and_loss(conn, state, REALM, CONNECTION, AS_OF - dt.timedelta(days=3 * 366),
                                        AS_OF) > 0
            conn.execute(
                """INSERT INTO oauth_tokens (connection_id, key_id, access_token_enc, refresh_token_enc,
                       access_expires_at, refresh_expires_at, consented_at, last_refreshed_at)
                   VALUES (%s, 'k1', '\\x00', '\\x00', now() + interval '1 hour', now() + interval '100 days',
                           now() - interval '30 days', now())
                   ON CONFLICT (connection_id) DO NOTHING""", (CONNECTION,))
        yield CONNECTION


@pytest.fixture(scope="session")
def grafana_monday_demo(pg_dsn: str, landing_container: str, tmp_path_factory) -> Iterator[str]:
    """A small monday demo account synced through the simulator and the local Durable host (the operations
    dashboard's data), with a few items completed after the first sync and synced incrementally."""
    from devhost import LocalDurableHost
    from function_app import app
    from sandbox.monday import create_app
    from tests.integration import monday_helpers
    from tests.sim_server import serve

    state = monday_helpers.make_state(workspaces=2, boards=3, items_per_board=30, subitems_per_item=1)
    with serve(create_app(state)) as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("SECRET_MONDAY_E2E_TOKEN", monday_helpers.TOKEN)
        monday_helpers.add_connection(pg_dsn, MONDAY_CONNECTION, url, item_page_size=25)
        with psycopg.connect(pg_dsn) as conn:  # points of an earlier session under this id
            for table in ("metric_points", "metric_state", "metric_dirty"):
                conn.execute(f"DELETE FROM {table} WHERE connection_id = %s", (MONDAY_CONNECTION,))
        host = LocalDurableHost(app, tmp_path_factory.mktemp("grafana-monday") / "devhost.sqlite", virtual_time=True)
        monday_helpers.sync(host, MONDAY_CONNECTION, "full")
        account = state.account()
        for item in [i for i in account.items.values() if i.state == "active" and i.parent_id is None][:5]:
            state.change_column_value(item.id, "status", "Done")
        monday_helpers.sync(host, MONDAY_CONNECTION, "incremental")
    yield MONDAY_CONNECTION
