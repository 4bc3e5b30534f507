"""One access line per request: method, path, status and who called; never query strings, keys or bodies."""

from __future__ import annotations

import logging


def test_each_request_is_logged_with_its_caller_and_nothing_secret(as_caller, caplog):
    caplog.set_level(logging.INFO, logger="bizmetrics.api.access")
    client = as_caller()
    client.get("/api/connections?secret=zzz")
    client.get("/api/health/live")
    client.post("/api/syncs", json={"connection_id": "no-such-co", "note": "body-text"})
    lines = [r.getMessage() for r in caplog.records if r.name == "bizmetrics.api.access"]
    assert any(line.startswith("GET /api/connections -> 200 (key:") for line in lines), lines
    assert "GET /api/health/live -> 200 (anonymous)" in lines
    assert any(line.startswith("POST /api/syncs -> 422 (key:") for line in lines), lines
    assert not any("zzz" in line or "bzk_" in line or "body-text" in line for line in lines)


def test_records_logged_while_a_request_is_handled_carry_its_caller(as_caller, caplog, db):
    from shared.db.connections import Connection, upsert_connection

    upsert_connection(db, Connection("caller-co", "quickbooks", "Caller", {"realm_id": "7"}))
    db.commit()
    caplog.set_level(logging.INFO)
    client = as_caller()
    response = client.post("/api/syncs", json={"connection_id": "caller-co"})
    assert response.status_code == 202, response.text
    started = [r for r in caplog.records if r.name == "api.routes.syncs" and "started" in r.getMessage()]
    access = [r for r in caplog.records if r.name == "bizmetrics.api.access"]
    assert started and started[-1].caller.startswith("key:")
    assert access and access[-1].caller == started[-1].caller
