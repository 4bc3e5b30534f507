"""Connection leases against real PostgreSQL: one run per connection at a time, stale leases taken over."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import psycopg
import pytest

from shared.db import leases, runs
from shared.db.connections import Connection, upsert_connection


@pytest.fixture
def cid(db: psycopg.Connection) -> str:
    connection_id = f"lease-{uuid.uuid4().hex[:8]}"
    upsert_connection(db, Connection(connection_id, "quickbooks", "Lease test", {}))
    db.commit()
    return connection_id


def new_run(db: psycopg.Connection, instance_id: str = "sync-all") -> str:
    run_id = f"run-{uuid.uuid4().hex[:12]}"
    runs.begin_run(db, run_id, "all", "incremental", "test", instance_id)
    db.commit()
    return run_id


def claim(db: psycopg.Connection, cid: str, run_id: str, instance_id: str = "sync-all",
          ttl: dt.timedelta = leases.TTL) -> leases.Claim:
    with db.transaction():
        return leases.claim(db, cid, run_id, instance_id, ttl)


def test_a_claim_is_granted_once_and_refused_to_another_run_naming_the_holder(db, cid):
    first, second = new_run(db, "sync-qbo"), new_run(db)
    assert claim(db, cid, first, "sync-qbo").granted
    refused = claim(db, cid, second)
    assert not refused.granted and refused.holder.run_id == first
    assert f"run {first} (instance sync-qbo)" in refused.message()
    assert leases.holder(db, cid).run_id == first


def test_the_holder_claiming_again_keeps_its_lease(db, cid):
    run_id = new_run(db)
    assert claim(db, cid, run_id).granted
    again = claim(db, cid, run_id)
    assert again.granted and again.taken_over is None and leases.holder(db, cid).run_id == run_id


def test_a_released_connection_can_be_claimed_by_the_next_run(db, cid):
    first, second = new_run(db), new_run(db)
    claim(db, cid, first)
    with db.transaction():
        assert leases.release(db, first) == [cid]
    assert leases.holder(db, cid) is None
    granted = claim(db, cid, second)
    assert granted.granted and granted.taken_over is None


def test_a_lease_whose_run_is_no_longer_running_is_taken_over_and_says_so(db, cid):
    crashed, next_run = new_run(db), new_run(db)
    claim(db, cid, crashed)
    with db.transaction():  # closed (e.g. by hand) without releasing its leases
        runs.end_run(db, crashed, "failed", [])
    taken = claim(db, cid, next_run)
    assert taken.granted and taken.taken_over.run_id == crashed
    assert f"from run {crashed}" in taken.message()
    assert leases.holder(db, cid).run_id == next_run


def test_an_expired_lease_is_taken_over_even_while_its_run_says_running(db, cid):
    silent, next_run = new_run(db), new_run(db)
    claim(db, cid, silent, ttl=dt.timedelta(seconds=-1))
    taken = claim(db, cid, next_run)
    assert taken.granted and taken.taken_over.run_id == silent


def test_renewing_pushes_the_expiry_out_and_only_the_holder_can_renew(db, cid):
    holder, other = new_run(db), new_run(db)
    claim(db, cid, holder, ttl=dt.timedelta(seconds=-1))
    with db.transaction():
        assert not leases.renew(db, cid, other)
        assert leases.renew(db, cid, holder)
    assert not claim(db, cid, other).granted  # renewed: no longer expired


def test_a_claim_racing_an_uncommitted_claim_waits_for_it_and_is_refused(db, cid, pg_dsn):
    first, second = new_run(db), new_run(db)
    outcome: dict[str, leases.Claim] = {}
    with psycopg.connect(pg_dsn) as racing:
        with racing.transaction():
            assert leases.claim(racing, cid, first, "sync-qbo").granted

            def contend() -> None:
                with psycopg.connect(pg_dsn) as other, other.transaction():
                    outcome["second"] = leases.claim(other, cid, second, "sync-all")

            thread = threading.Thread(target=contend)
            thread.start()
            thread.join(timeout=1.0)
            assert thread.is_alive(), "the second claim must wait for the first claim's transaction"
        thread.join(timeout=10)
    assert not outcome["second"].granted and outcome["second"].holder.run_id == first
