"""Liveness answers with no I/O and no credential; readiness checks the database (reachable, at this code's schema
version) and the landing storage, each within a short timeout, and says which one is not ready."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.auth.principal import METRICS_READ
from plugins import registry


def test_liveness_needs_nothing(api_app):
    response = TestClient(api_app).get("/api/health/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readiness_checks_the_database_and_the_storage(as_caller):
    response = as_caller(METRICS_READ).get("/api/health/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready" and {c["name"]: c["ok"] for c in body["checks"]} == {"database": True,
                                                                                       "storage": True}


def test_a_schema_behind_the_code_is_not_ready_and_says_what_to_run(as_caller, monkeypatch, tmp_path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_newer_table.sql").write_text("CREATE TABLE newer (id int);\n")
    installed = registry.migration_folders()
    monkeypatch.setattr(registry, "migration_folders", lambda: [*installed, ("newer", folder)])
    response = as_caller(METRICS_READ).get("/api/health/ready")
    assert response.status_code == 503
    database = {c["name"]: c for c in response.json()["checks"]}["database"]
    assert not database["ok"] and "newer/0001_newer_table" in database["error"]
    assert "plugins.migrate_cli" in database["error"]


def test_unreachable_storage_is_not_ready(as_caller, monkeypatch):
    client = as_caller(METRICS_READ)
    monkeypatch.setenv("LANDING_STORAGE_CONNECTION", "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                       "AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;")
    response = client.get("/api/health/ready")
    assert response.status_code == 503
    checks = {c["name"]: c for c in response.json()["checks"]}
    assert checks["database"]["ok"] and not checks["storage"]["ok"] and "a2V5" not in response.text
