"""PostgreSQL restarted (pg_ctl stop -m fast, then start) while a sync loads: the activities that meet the restart
(surely a load, held in its transaction at a table the test locks) fail, the host retries them, and the run ends
with every record exactly once. An outage longer than the retries fails the run, says why, and the next run
picks up from what the failed one loaded.

The cluster is a throwaway one of this test's own (scripts/services.sh on its own folder and port): the shared
cluster in .local serves other sessions and is never restarted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing

import psycopg
import pytest

from shared.db.pool import close_pool
from tests.conftest import runtime_dsns
from tests.faults.conftest import a_load_waits_on_a_lock, failed_activities, pages_loaded, run_to_success
from tests.faults.services import OwnServices, own_services
from tests.faults.sources import qbo_connection, qbo_state, serving
from tests.faults.truth import assert_each_page_loaded_once, assert_qbo_exact, inserted, qbo_counts
from tests.integration.helpers import start, sync


@pytest.fixture
def own_postgres(monkeypatch: pytest.MonkeyPatch, landing_container: str) -> Iterator[tuple[OwnServices, str]]:
    """A cluster of this test's own, migrated by services.sh; the app's settings point at it."""
    with own_services("postgres") as services:
        admin = services.env()["BIZ_PG_DSN_ADMIN"]
        for name, value in runtime_dsns(admin).items():
            monkeypatch.setenv(name, value)
        close_pool()  # the API's pool of an earlier test holds connections to the session's database
        try:
            yield services, admin
        finally:
            close_pool()


def test_a_postgres_restart_mid_load_is_retried_and_loads_every_record_once(own_postgres, trigger, tmp_path):
    from devhost import LocalDurableHost
    from function_app import app
    from sandbox.quickbooks import create_app

    services, dsn = own_postgres
    state = qbo_state(2_000)
    with serving(create_app(state)) as url:
        connection = qbo_connection(dsn, url, page_size=100)
        # Real time: the activity retry policy's 5 s waits are what carries a load over the restart, as in Azure.
        # Threads for more activities than the invoices' split read loads at once (its own chain and up to four
        # chains, each with a load waiting at the lock): the other streams' pages must still load to reach 3.
        host = LocalDurableHost(app, tmp_path / "devhost.sqlite", virtual_time=False, max_activity_workers=8)
        # The restart lands inside a load: the invoices' loads wait at the table this test locks until it comes.
        with closing(psycopg.connect(dsn)) as holder:  # the restart ends its session and the lock with it
            holder.execute("LOCK TABLE qbo_invoice IN EXCLUSIVE MODE")  # readers go on, writers wait
            restart = trigger(lambda: pages_loaded(dsn, connection) >= 3 and a_load_waits_on_a_lock(dsn),
                              lambda: services.restart("postgres"))
            sync(host, "full")
            restart.finish()
        assert any(name == "load_pages" for name, _ in failed_activities(host)), "the restart must meet a load"
        assert_qbo_exact(dsn, state)
        with psycopg.connect(dsn) as conn:
            runs = [run_id for (run_id,) in conn.execute("SELECT run_id FROM sync_runs")]
        assert len(runs) == 1
        # Each record inserted exactly once across the failed attempts and their retries.
        assert inserted(dsn, *runs) == qbo_counts(state)
        assert_each_page_loaded_once(dsn, runs[0])


def test_an_outage_longer_than_the_retries_fails_the_run_and_the_next_run_completes_it(own_postgres, trigger,
                                                                                         tmp_path):
    from devhost import LocalDurableHost
    from function_app import app
    from sandbox.quickbooks import create_app

    services, dsn = own_postgres
    state = qbo_state(1_000)

    def outage() -> None:
        # Longer than the activity retry policy's reach (3 attempts, 5 s apart).
        services.run("stop", "postgres")
        time.sleep(12)
        services.run("start", "postgres")

    with serving(create_app(state)) as url:
        connection = qbo_connection(dsn, url, page_size=100)
        host = LocalDurableHost(app, tmp_path / "devhost.sqlite", virtual_time=False)
        down = trigger(lambda: pages_loaded(dsn, connection) >= 2, outage)
        instance_id, failed_run = start(host, "full")
        status = host.run_until_complete(instance_id, timeout=300)
        down.finish()
        assert status["output"]["status"] == "failed", status["output"]
        assert "Connection refused" in status["output"]["errors"][0]["error"]
        # The failed run released its lease once the database was back: the next run is not skipped.
        run_id, _ = run_to_success(host, "full")
    assert_qbo_exact(dsn, state)
    assert inserted(dsn, failed_run, run_id) == qbo_counts(state)  # what the failed run loaded was not loaded again
    assert_each_page_loaded_once(dsn, run_id)
