"""POST /api/syncs against a connection's state: a disabled one is 409 (it exists; enable it first), an unknown
one 404, and neither records a run."""

from __future__ import annotations

from shared.db.connections import Connection, upsert_connection


def _runs(db) -> int:
    return db.execute("SELECT count(*) FROM sync_runs").fetchone()[0]


def test_a_disabled_connection_is_409_saying_how_to_enable_it(as_caller, db):
    upsert_connection(db, Connection("sleeping-co", "quickbooks", "Sleeping", {"realm_id": "5"}), enabled=False)
    db.commit()
    before = _runs(db)
    client = as_caller()
    response = client.post("/api/syncs", json={"connection_id": "sleeping-co"})
    assert response.status_code == 409 and response.json()["code"] == "connection_disabled"
    assert "enabled=true" in response.json()["detail"]
    unknown = client.post("/api/syncs", json={"connection_id": "nobody-co"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "connection_not_found"
    db.rollback()
    assert _runs(db) == before
    # Its past runs stay listable.
    assert client.get("/api/syncs?connection_id=sleeping-co").status_code == 200
