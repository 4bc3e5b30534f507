"""Four worker processes syncing the same QuickBooks realm and the same monday account at once, each through the
production fetch path with its own ApiClient, against simulators whose windows are scaled down to seconds: the
budgets they share in PostgreSQL keep every one of them within the limits, so neither simulator answers a 429.
(How close to the allowed rate they get is a speed figure: bench/bench_shared_budget.py.)"""

from __future__ import annotations

import pytest

from tests.many_workers import Scale, add_connections, plan_streams, run_workers, simulators

pytestmark = pytest.mark.integration


def test_four_workers_sharing_a_realm_and_an_account_get_no_429(pg_dsn, landing_container):
    scale = Scale()
    with simulators(scale) as sims:
        qbo_id, monday_id = add_connections(pg_dsn, sims, scale)
        streams = plan_streams([qbo_id, monday_id])
        outcome = run_workers(streams, sims, workers=4)
        refusals = sims.refusals()
        qbo_calls, monday_calls = sims.qbo_calls(), sims.monday_calls()
    workers = outcome.workers
    assert [w["errors"] for w in workers] == [[]] * 4
    assert sum(w["done"] for w in workers) == len(streams)  # every stream read to its end
    assert refusals == {"quickbooks": {"throttled": 0, "429": 0}, "monday": {"refused": 0, "429": 0}}
    # Each source was asked for several windows' worth: four workers on their own would have gone past the limits.
    assert qbo_calls > 2 * scale.qbo_per_window and monday_calls > 2 * scale.monday_requests
    assert all(w["pages"] > 0 for w in workers)
