"""The App Service Authentication principal header: trusted only when the app is configured to run behind it."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

from api.auth import METRICS_READ, SYNC_RUN, Authenticator
from tests.api.conftest import bearer, make_app, refused

ROLE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
OID_TYPE = "http://schemas.microsoft.com/identity/claims/objectidentifier"
OID = "9d3e0f00-1111-4222-8333-444455556666"


def client_principal(*roles: str, oid: str | None = OID) -> str:
    claims = [{"typ": "preferred_username", "val": "grace@contoso.test"}, *({"typ": ROLE, "val": r} for r in roles)]
    if oid:
        claims.append({"typ": OID_TYPE, "val": oid})
    document = {"auth_typ": "aad", "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
                "role_typ": ROLE, "claims": claims}
    return base64.b64encode(json.dumps(document).encode()).decode()


@pytest.fixture
def trusting_client(keys, entra):
    with TestClient(make_app(Authenticator(keys, entra, trust_app_service_auth=True))) as client:
        yield client


def test_the_header_is_ignored_unless_the_app_runs_behind_app_service_auth(client):
    headers = {"X-MS-CLIENT-PRINCIPAL": client_principal(METRICS_READ, SYNC_RUN)}
    refused(client.get("/metrics", headers=headers), 401, "unauthenticated")


def test_behind_app_service_auth_the_header_is_the_user_with_its_roles(trusting_client):
    headers = {"X-MS-CLIENT-PRINCIPAL": client_principal(METRICS_READ, "Other.Role")}
    response = trusting_client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"actor": f"user:{OID} (grace@contoso.test)", "kind": "user",
                               "scopes": [METRICS_READ], "connections": None}
    refused(trusting_client.post("/syncs", headers=headers), 403, "forbidden")


@pytest.mark.parametrize("value", ["%%%not-base64", base64.b64encode(b"not json").decode(),
                                   base64.b64encode(b'{"claims": "nope"}').decode(),
                                   base64.b64encode(b"[1, 2]").decode()])
def test_a_malformed_principal_header_is_401(trusting_client, value):
    refused(trusting_client.get("/metrics", headers={"X-MS-CLIENT-PRINCIPAL": value}), 401, "invalid_credentials")


def test_a_principal_without_an_object_id_is_401(trusting_client):
    headers = {"X-MS-CLIENT-PRINCIPAL": client_principal(METRICS_READ, oid=None)}
    refused(trusting_client.get("/metrics", headers=headers), 401, "invalid_token")


def test_keys_and_tokens_still_work_behind_app_service_auth(trusting_client, keys, tenant):
    issued = keys.create("behind-easy-auth", [METRICS_READ], actor="test")
    assert trusting_client.get("/metrics", headers=bearer(issued.text)).json()["kind"] == "key"
    assert trusting_client.get("/metrics", headers=bearer(tenant.token())).json()["kind"] == "user"
