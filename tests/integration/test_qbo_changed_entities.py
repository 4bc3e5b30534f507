"""A QuickBooks run a webhook asked for ("entity:<Name>" hints), end to end on the local Durable host against the
simulator: change data capture reads every entity's changes as in a scheduled run, and the calls a webhook gives no
reason for (the reports, the entities outside change data capture) wait, their watermarks untouched."""

from __future__ import annotations

import uuid

import psycopg

from shared.core.messages import SyncRequest
from tests.integration.helpers import CONNECTION, REALM, assert_database_equals_simulator, streams_of, sync, truth


def _watermarks(pg_dsn: str) -> dict[str, dict]:
    with psycopg.connect(pg_dsn) as conn:
        return dict(conn.execute("SELECT stream, watermark FROM stream_state WHERE connection_id = %s",
                                 (CONNECTION,)).fetchall())


def _notified_sync(host, changed: list[str]) -> dict[str, dict]:
    """What the change-queue consumer starts: sync_all for the connection, incremental, with the hints."""
    run_id = f"run-{uuid.uuid4().hex[:16]}"
    instance_id = host.start_new("sync_all", f"hooked-{run_id}", SyncRequest(
        run_id, CONNECTION, "incremental", "webhook", {}, changed=changed).to_json())
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["runtimeStatus"] == "Completed" and status["output"]["status"] == "succeeded", status
    return streams_of(run_id)


def test_an_entity_hint_reads_change_data_capture_only_and_leaves_reports_and_tax_codes_for_later(
        host, simulator, connection, pg_dsn):
    state, _ = simulator
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("""UPDATE connections SET config = config || '{"reports": true, "report_months": 1,
                        "streams": ["Customer", "Invoice", "Payment", "TaxCode"]}' WHERE connection_id = %s""",
                     (CONNECTION,))
        conn.commit()
    sync(host, "full")
    before = _watermarks(pg_dsn)
    invoice_id = sorted(truth(state, "Invoice"), key=int)[0]
    state.update(REALM, "Invoice", invoice_id, {"PrivateNote": "changed before the webhook"})
    state.create(REALM, "Customer", {"DisplayName": "Created Before The Webhook Ltd"})

    streams = _notified_sync(host, ["entity:Invoice"])

    # Change data capture is never narrowed to the named entity: the customer nobody named arrives too.
    assert set(streams) == {"cdc"}
    assert (streams["cdc"]["updated"], streams["cdc"]["inserted"], streams["cdc"]["api_calls"]) == (1, 1, 1)
    assert_database_equals_simulator(pg_dsn, state)
    after = _watermarks(pg_dsn)
    assert after["TaxCode"] == before["TaxCode"] and after["cdc"] != before["cdc"]

    later = sync(host, "incremental")
    assert {"cdc", "TaxCode", "reports"} <= set(later) and later["cdc"]["fetched"] == 0
