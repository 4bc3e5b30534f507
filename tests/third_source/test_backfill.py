"""A plugin whose plan takes no `since` (this example source) cannot backfill: the run fails with a message saying
so and what to run instead, not with a TypeError, and nothing is read."""

from __future__ import annotations

import psycopg
import pytest

from plugins import registry
from shared.db.migrate import migrate
from tests.api_calls import start_sync
from tests.integration.helpers import streams_of
from tests.third_source.conftest import Helpdesk

pytestmark = pytest.mark.integration


def test_a_backfill_of_a_source_that_cannot_backfill_is_refused_saying_why(host, helpdesk: Helpdesk, pg_dsn: str):
    with psycopg.connect(pg_dsn) as conn:
        migrate(conn, registry.migration_folders())  # its table, as the deploy step would create it
    instance_id, run_id = start_sync(host, {"connection_id": helpdesk.connection_id, "mode": "backfill",
                                            "since": "2026-01-01"})
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["runtimeStatus"] == "Completed", status
    output = status["output"]
    assert output["status"] == "failed"
    [error] = output["errors"]
    assert "cannot backfill from a date" in error["error"] and "run a full sync" in error["error"]
    assert "TypeError" not in error["error"]
    assert streams_of(run_id) == {}


def test_change_hints_for_a_source_whose_plan_takes_none_give_its_normal_incremental_plan(helpdesk: Helpdesk,
                                                                                         pg_dsn: str):
    from activities.planning import plan_streams
    from shared.core.messages import PlanRequest, PlanResult

    with psycopg.connect(pg_dsn) as conn:
        migrate(conn, registry.migration_folders())
        conn.execute("INSERT INTO sync_runs (run_id, scope, mode, trigger) VALUES ('run-hints', %s, 'incremental', "
                     "'webhook') ON CONFLICT DO NOTHING", (helpdesk.connection_id,))
    hinted = PlanResult.from_json(plan_streams(PlanRequest("run-hints", helpdesk.connection_id, "incremental",
                                                           changed=["ticket:42"]).to_json()))
    plain = PlanResult.from_json(plan_streams(PlanRequest("run-hints", helpdesk.connection_id,
                                                          "incremental").to_json()))
    assert hinted.refused is None and hinted.streams and hinted == plain
