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
