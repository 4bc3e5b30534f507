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
