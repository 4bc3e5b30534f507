"""The committed contract is the app's: api/openapi.json and docs/API.md are regenerated and compared."""

from __future__ import annotations

from api import docs


def test_the_committed_openapi_document_and_api_docs_are_not_stale():
    stale = [str(path.relative_to(docs.ROOT)) for path, text in docs.expected_files().items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    assert not stale, f"{stale} are stale: run `.venv/bin/python -m api.docs` and commit"


def test_every_operation_but_liveness_the_consent_callback_and_the_webhooks_needs_a_scope():
    """The webhooks carry no credential of ours: each checks its source's signature itself (tests/api/
    test_auth_matrix.py shows an API key does not stand in for it)."""
    document = docs.openapi_document()
    open_operations = sorted(f"{method.upper()} {path}" for path, item in document["paths"].items()
                             for method, op in item.items() if not op.get("x-required-scope"))
    assert open_operations == ["GET /api/connections/quickbooks/callback", "GET /api/health/live",
                               "POST /api/webhooks/monday/{connection_id}", "POST /api/webhooks/quickbooks"]


def test_errors_are_documented_as_problem_details_on_every_operation():
    document = docs.openapi_document()
    for path, item in document["paths"].items():
        for method, op in item.items():
            assert "application/problem+json" in op["responses"]["401"]["content"], f"{method} {path}"


def test_the_functions_app_serves_the_committed_document_and_the_docs_page(tmp_path):
    """Through the one HTTP function (api_http), as Azure serves it: no credential needed for the contract."""
    import json

    from devhost import LocalDurableHost
    from function_app import app

    host = LocalDurableHost(app, tmp_path / "devhost.sqlite")
    try:
        served = host.invoke_http("api_http", "GET", url="http://localhost:7071/api/openapi.json")
        assert served.status_code == 200
        assert json.loads(served.get_body()) == json.loads(docs.OPENAPI_FILE.read_text(encoding="utf-8"))
        page = host.invoke_http("api_http", "GET", url="http://localhost:7071/api/docs")
        assert page.status_code == 200 and b"swagger" in page.get_body().lower()
    finally:
        host.close()
