"""POST /api/syncs with mode backfill: `since` is required, a YYYY-MM-DD date not in the future, and only for a
backfill; a refused request records no run; an accepted one stores its date and every view of the run shows it."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.db.connections import Connection, upsert_connection

TOMORROW = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()


def _runs(db) -> int:
    return db.execute("SELECT count(*) FROM sync_runs").fetchone()[0]


@pytest.fixture
def company(db) -> str:
    upsert_connection(db, Connection("backfill-co", "quickbooks", "Backfill Co", {"realm_id": "7"}))
    db.commit()
    return "backfill-co"


@pytest.mark.parametrize(("body", "says"), [
    ({"mode": "backfill"}, "mode backfill needs since"),
    ({"mode": "backfill", "since": None}, "mode backfill needs since"),
    ({"mode": "backfill", "since": "2026-1-15"}, "YYYY-MM-DD"),
    ({"mode": "backfill", "since": "15/01/2026"}, "YYYY-MM-DD"),
    ({"mode": "backfill", "since": "2026-02-30"}, "not a calendar date"),
    ({"mode": "backfill", "since": TOMORROW}, "in the future"),
    ({"mode": "backfill", "since": "1999-12-31"}, "before 2000-01-01"),
    ({"mode": "backfill", "since": 20260115}, "string"),
    ({"mode": "incremental", "since": "2026-01-15"}, "since is for mode backfill only"),
    ({"mode": "full", "since": "2026-01-15"}, "since is for mode backfill only"),
])
def test_a_backfill_without_a_usable_date_or_a_date_without_a_backfill_is_422_and_records_no_run(
        as_caller, db, company, body, says):
    before = _runs(db)
    response = as_caller().post("/api/syncs", json={"connection_id": company, **body})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "invalid_input" and says in problem["detail"], problem
    db.rollback()
    assert _runs(db) == before


def test_an_accepted_backfill_stores_its_date_and_the_run_shows_it(as_caller, db, company):
    client = as_caller()
    response = client.post("/api/syncs", json={"connection_id": company, "mode": "backfill", "since": "2026-01-15"})
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert (accepted["mode"], accepted["since"]) == ("backfill", "2026-01-15")
    run = client.get(accepted["status_url"]).json()
    assert (run["mode"], run["since"]) == ("backfill", "2026-01-15")
    [listed] = [r for r in client.get(f"/api/syncs?connection_id={company}").json()["items"]
                if r["run_id"] == accepted["run_id"]]
    assert listed["since"] == "2026-01-15"
    db.rollback()
    assert db.execute("SELECT mode, since FROM sync_runs WHERE run_id = %s",
                      (accepted["run_id"],)).fetchone() == ("backfill", dt.date(2026, 1, 15))
    details = db.execute("SELECT details FROM audit_log WHERE action = 'sync.started' AND target = %s",
                         (accepted["run_id"],)).fetchone()[0]
    assert details == {"scope": company, "mode": "backfill", "since": "2026-01-15"}


def test_every_connection_may_be_backfilled_at_once(as_caller, db, company):
    response = as_caller().post("/api/syncs", json={"mode": "backfill", "since": "2026-01-15"})
    assert response.status_code == 202, response.text
    assert (response.json()["scope"], response.json()["since"]) == ("all", "2026-01-15")


def test_other_runs_show_no_date(as_caller, company):
    client = as_caller()
    accepted = client.post("/api/syncs", json={"connection_id": company}).json()
    assert client.get(accepted["status_url"]).json()["since"] is None
