"""Done-when of issue 5: a generated company synced through the real path; then records are changed,
backdated, voided, deleted and created in the simulator and synced again (change data capture); every
metric bucket equals a from-scratch recomputation and the pandas oracle, both times."""

from __future__ import annotations

import psycopg
import pytest

from plugins.registry import metric_catalogs
from sandbox.quickbooks.datagen import generate_company
from shared.core.secrets import env_name
from shared.metrics import rebuild
from tests.metrics.conftest import points
from tests.metrics.oracle import expected_points
from tests.metrics.synced import TOKEN, register, simulator, sync, truth

CATALOGS = metric_catalogs()

REALM = "9130350000000055"
CONNECTION = "metrics-e2e"


@pytest.fixture
def host(tmp_path, landing_container, monkeypatch):
    from devhost import LocalDurableHost
    from function_app import app

    monkeypatch.setenv(env_name(f"conn-{CONNECTION}-token"), TOKEN)
    return LocalDurableHost(app, tmp_path / "devhost.sqlite", virtual_time=True)


def _assert_equal_to_rebuild_and_oracle(pg_dsn: str, state) -> None:
    with psycopg.connect(pg_dsn) as conn:
        synced = points(conn, CONNECTION)
        assert synced == expected_points(truth(state, REALM))
        rebuild(conn, CONNECTION, CATALOGS)
        assert points(conn, CONNECTION) == synced
        conn.rollback()  # keep the synced rows as they were


def _built_at(pg_dsn: str) -> dict:
    with psycopg.connect(pg_dsn) as conn:
        return dict(conn.execute("SELECT metric, built_at FROM metric_state WHERE connection_id = %s",
                                 (CONNECTION,)).fetchall())


def test_changes_backdates_voids_and_deletes_synced_again_restate_every_bucket(pg_dsn, host):
    company = generate_company(REALM, seed=21, records=1500, years=3)
    with simulator([company]) as (state, url):
        register(pg_dsn, CONNECTION, REALM, url)
        sync(host, CONNECTION, "full")
        _assert_equal_to_rebuild_and_oracle(pg_dsn, state)
        built = _built_at(pg_dsn)

        invoices = {r["Id"]: r for r in state.records(REALM, "Invoice")}
        unpaid = [i for i, r in invoices.items() if not r.get("LinkedTxn") and r.get("TotalAmt")]
        paid = [i for i, r in invoices.items() if r.get("LinkedTxn")]
        march = next(i for i in unpaid if invoices[i]["TxnDate"].startswith("2025-03"))
        state.update(REALM, "Invoice", march, {"TxnDate": "2025-01-20"})  # restates March and January
        state.update(REALM, "Invoice", paid[0], {"DueDate": "2024-01-05"})  # overdue earlier
        state.update(REALM, "Invoice", unpaid[1], {"TotalAmt": 1234.5, "CurrencyRef": {"value": "USD"},
                                                   "ExchangeRate": 1})
        state.void(REALM, "Invoice", unpaid[2])
        state.delete(REALM, "Invoice", unpaid[3])
        payment = next(p for p in state.records(REALM, "Payment") if p.get("Line"))
        state.update(REALM, "Payment", payment["Id"], {"TxnDate": "2024-06-03"})  # a backdated payment
        purchase = state.records(REALM, "Purchase")[0]
        state.update(REALM, "Purchase", purchase["Id"], {"Credit": True, "PaymentType": "CreditCard"})
        state.create(REALM, "Invoice", {"CustomerRef": {"value": invoices[march]["CustomerRef"]["value"]},
                                        "TxnDate": "2024-02-29", "Line": [
                                            {"Amount": 500.0, "DetailType": "SalesItemLineDetail",
                                             "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}]})
        state.create(REALM, "Customer", {"DisplayName": "Backdated Newcomer LLC"})

        output = sync(host, CONNECTION, "incremental")
        with psycopg.connect(pg_dsn) as conn:
            streams = dict(conn.execute("SELECT stream, fetched FROM sync_run_streams WHERE run_id = %s",
                                        (output["run_id"],)).fetchall())
        assert streams["cdc"] >= 9  # the changes came through change data capture
        assert _built_at(pg_dsn) == built  # restated incrementally, not rebuilt
        _assert_equal_to_rebuild_and_oracle(pg_dsn, state)
