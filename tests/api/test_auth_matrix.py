"""The access-control matrix of the real app: for every operation the OpenAPI document lists as protected, a
missing, malformed, wrong, expired, revoked and under-scoped credential is refused with the right status and
code, for API keys and Entra tokens alike, and the right credential gets past authentication."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from fastapi.testclient import TestClient

from api.auth import SCOPES, Authenticator
from tests.api.conftest import ALLOWED, bearer, refused, unique

# A valid-looking value for each path parameter, so the request reaches the credential check and then the route.
PATH_VALUES = {"connection_id": ALLOWED, "run_id": "run-0123456789abcdef", "metric": "qbo.revenue_invoiced"}
BODIES = {("POST", "/api/syncs"): {"connection_id": ALLOWED, "mode": "incremental"},
          ("POST", "/api/connections"): {"connection_id": "matrix-new", "plugin": "quickbooks",
                                         "display_name": "Matrix", "settings": {}},
          ("PATCH", "/api/connections/{connection_id}"): {"display_name": "Renamed"}}


def _protected(app) -> list[tuple[str, str, str]]:
    document = app.openapi()
    return [(method.upper(), path, op["x-required-scope"]) for path, item in document["paths"].items()
            for method, op in item.items() if op.get("x-required-scope")]


@pytest.fixture
def matrix_app(keys, entra, pg_dsn, landing_container, tmp_path):
    from api.app import create_app
    from devhost import LocalDurableHost
    from function_app import app as functions_app

    host = LocalDurableHost(functions_app, tmp_path / "devhost.sqlite")
    app = create_app(authenticator=Authenticator(keys, entra, trust_app_service_auth=False),
                     durable_client=host.client())
    yield app
    host.close()


def _request(client: TestClient, method: str, path: str, headers: dict[str, str], params: dict | None = None):
    url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
    body = BODIES.get((method, path))
    if body is not None:
        headers = {**headers, "Content-Type": "application/json"}
    return client.request(method, url, headers=headers, params=params,
                          content=json.dumps(body) if body is not None else None)


def test_every_protected_operation_refuses_every_bad_api_key_and_accepts_the_right_one(matrix_app, keys, clock):
    operations = _protected(matrix_app)
    assert len(operations) >= 14
    client = TestClient(matrix_app, raise_server_exceptions=False)
    expired = keys.create(unique("expired"), SCOPES, expires_in=dt.timedelta(minutes=5), actor="test")
    revoked = keys.create(unique("revoked"), SCOPES, actor="test")
    keys.revoke(revoked.key.key_id, actor="test")
    clock.advance(minutes=10)
    good = keys.create(unique("good"), SCOPES, actor="test")
    wrong_secret = good.text[:-4] + ("AAAA" if not good.text.endswith("AAAA") else "BBBB")
    for method, path, scope in operations:
        where = f"{method} {path}"
        refused(_request(client, method, path, {}), 401, "unauthenticated")
        refused(_request(client, method, path, bearer("bzk_not-a-key")), 401, "invalid_credentials")
        refused(_request(client, method, path, bearer(wrong_secret)), 401, "invalid_credentials")
        refused(_request(client, method, path, {"X-API-Key": wrong_secret}), 401, "invalid_credentials")
        refused(_request(client, method, path, bearer(expired.text)), 401, "key_expired")
        refused(_request(client, method, path, bearer(revoked.text)), 401, "key_revoked")
        others = keys.create(unique("under"), [s for s in SCOPES if s != scope], actor="test")
        body = refused(_request(client, method, path, bearer(others.text)), 403, "forbidden")
        assert body["required_scope"] == scope, where
        just_right = keys.create(unique("right"), [scope], actor="test")
        for headers in (bearer(just_right.text), {"X-API-Key": just_right.text}):
            answer = _request(client, method, path, headers)
            assert answer.status_code not in (401, 403) and answer.status_code < 500, (where, answer.text)


def test_every_protected_operation_refuses_every_bad_entra_token_and_accepts_the_right_one(matrix_app, tenant,
                                                                                           rsa_keys):
    client = TestClient(matrix_app, raise_server_exceptions=False)
    for method, path, scope in _protected(matrix_app):
        where = f"{method} {path}"
        others = [s for s in SCOPES if s != scope]
        refused(_request(client, method, path, bearer(tenant.token(key=rsa_keys["evil"], roles=[scope]))),
                401, "invalid_token")
        refused(_request(client, method, path, bearer(tenant.token(roles=[scope], aud="api://someone-else"))),
                401, "invalid_token")
        refused(_request(client, method, path, bearer(tenant.token(roles=[scope], exp=1_000_000, iat=999_000,
                                                                   nbf=999_000))), 401, "token_expired")
        refused(_request(client, method, path, bearer(tenant.token(roles=others))), 403, "forbidden")
        answer = _request(client, method, path, bearer(tenant.token(roles=[scope])))
        assert answer.status_code not in (401, 403) and answer.status_code < 500, (where, answer.text)


def test_liveness_needs_no_credential_and_says_nothing_about_the_caller(matrix_app):
    client = TestClient(matrix_app)
    assert client.get("/api/health/live").json() == {"status": "ok"}
    assert client.get("/api/health/live", headers=bearer("bzk_garbage")).status_code == 200


def test_the_app_service_principal_header_is_ignored_unless_configured(matrix_app):
    import base64

    principal = base64.b64encode(json.dumps({"auth_typ": "aad", "claims": [
        {"typ": "roles", "val": scope} for scope in SCOPES] + [{"typ": "oid", "val": "x"}]}).encode()).decode()
    client = TestClient(matrix_app, raise_server_exceptions=False)
    refused(client.get("/api/connections", headers={"X-MS-CLIENT-PRINCIPAL": principal}), 401, "unauthenticated")


def test_a_key_limited_to_other_connections_is_refused_wherever_a_connection_is_named(matrix_app, keys, connections):
    """Every operation that names a connection (path, query or body) refuses it to a key limited to others;
    listings leave it out; operations over every connection need an unrestricted credential."""
    allowed, other = connections
    client = TestClient(matrix_app, raise_server_exceptions=False)
    limited = bearer(keys.create(unique("limited"), SCOPES, [other], actor="test").text)
    naming = {"connection_id": allowed}
    checked = 0
    for method, path, _ in _protected(matrix_app):
        operation = matrix_app.openapi()["paths"][path][method.lower()]
        takes_query = any(p["name"] == "connection_id" and p["in"] == "query" for p in operation.get("parameters", []))
        names_one = "{connection_id}" in path or takes_query or (method, path) == ("POST", "/api/syncs")
        if not names_one or (method, path) == ("POST", "/api/connections"):
            continue
        response = _request(client, method, path, limited, params=naming if takes_query else None)
        refused(response, 403, "connection_forbidden")
        checked += 1
    assert checked >= 8
    listed = client.get("/api/connections", headers=limited).json()["connections"]
    assert [c["connection_id"] for c in listed] == [other]
    refused(client.get("/api/syncs", headers=limited), 403, "connection_forbidden")
    refused(client.post("/api/syncs", headers=limited, json={}), 403, "connection_forbidden")


def test_the_webhooks_take_no_credential_of_ours_in_place_of_their_sources_signature(matrix_app, keys, connections):
    """Open to api.auth (tests/api/test_contract_files.py lists them), yet not open: a full-scope API key or an
    Entra token is not Intuit's signature nor monday's JWT, and the delivery is refused before anything is read."""
    client = TestClient(matrix_app, raise_server_exceptions=False)
    key = bearer(keys.create(unique("hooks"), SCOPES, actor="test").text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SECRET_QBO_WEBHOOK_VERIFIER", "matrix-verifier")
        patch.setenv("SECRET_MONDAY_SIGNING_SECRET", "matrix-signing-secret")
        for path in ("/api/webhooks/quickbooks", f"/api/webhooks/monday/{ALLOWED}"):
            for headers in ({}, key):
                answer = client.post(path, content=b'[{"id": "1"}]' if "quickbooks" in path else b'{"event": {}}',
                                     headers={**headers, "Content-Type": "application/json"})
                assert answer.status_code == 401, (path, headers, answer.text)
                assert answer.json()["code"] in ("signature_missing", "invalid_token"), answer.text
