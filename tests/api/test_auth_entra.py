"""Entra ID bearer tokens: signed by keys generated here, published through the one replaced edge (the JWKS fetch)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api.auth import CONNECTIONS_ADMIN, METRICS_READ, SYNC_RUN, Authenticator
from api.auth.entra import EntraValidator, SigningKeys
from tests.api.conftest import AUDIENCE, CHALLENGE, CLIENT_ID, TENANT, bearer, make_app, refused, unsigned_token

OID = "2a7c1e9f-0000-4000-8000-00000000beef"


def test_a_valid_token_is_a_user_with_its_known_app_roles_as_scopes(client, tenant):
    token = tenant.token(roles=[METRICS_READ, SYNC_RUN, "Something.Else"])
    response = client.post("/syncs", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json() == {"actor": f"user:{OID} (ada@contoso.test)", "kind": "user",
                               "scopes": [METRICS_READ, SYNC_RUN], "connections": None}


@pytest.mark.parametrize("issuer", [f"https://login.microsoftonline.com/{TENANT}/v2.0",
                                    f"https://sts.windows.net/{TENANT}/"], ids=["v2", "v1"])
@pytest.mark.parametrize("audience", [AUDIENCE, CLIENT_ID])
def test_v1_and_v2_issuers_and_every_configured_audience_are_accepted(client, tenant, issuer, audience):
    assert client.get("/metrics", headers=bearer(tenant.token(iss=issuer, aud=audience))).status_code == 200


def test_an_app_only_token_is_named_by_its_app_id(client, tenant):
    token = tenant.token(preferred_username=None, appid=CLIENT_ID)
    assert client.get("/metrics", headers=bearer(token)).json()["actor"] == f"user:{OID} ({CLIENT_ID})"


def test_an_expired_token_is_401_token_expired(client, tenant):
    now = int(time.time())
    refused(client.get("/metrics", headers=bearer(tenant.token(iat=now - 7200, nbf=now - 7200, exp=now - 120))),
            401, "token_expired")


def test_a_token_just_past_expiry_is_within_the_leeway(client, tenant):
    now = int(time.time())
    assert client.get("/metrics", headers=bearer(tenant.token(exp=now - 10))).status_code == 200


def test_a_token_not_valid_yet_is_refused(client, tenant):
    now = int(time.time())
    body = refused(client.get("/metrics", headers=bearer(tenant.token(nbf=now + 600, iat=now + 600))), 401,
                   "invalid_token")
    assert "not valid yet" in body["detail"]


@pytest.mark.parametrize(("claims", "says"), [
    ({"iss": "https://login.microsoftonline.com/another-tenant/v2.0"}, "issuer"),
    ({"iss": f"https://evil.example/{TENANT}/v2.0"}, "issuer"),
    ({"aud": "api://some-other-api"}, "audience"),
    ({"aud": None}, "'aud'"),
    ({"exp": None}, "'exp'"),
    ({"oid": None}, "'oid'"),
], ids=["other-tenant", "other-host", "other-audience", "no-audience", "no-expiry", "no-oid"])
def test_a_token_for_someone_else_or_incomplete_is_401_invalid_token(client, tenant, claims, says):
    body = refused(client.get("/metrics", headers=bearer(tenant.token(**claims))), 401, "invalid_token")
    assert says in body["detail"]


def test_a_token_signed_by_a_key_the_tenant_does_not_publish_is_refused(client, tenant, rsa_keys):
    forged = tenant.token(kid="k1", key=rsa_keys["evil"])  # the tenant's kid, someone else's key
    body = refused(client.get("/metrics", headers=bearer(forged)), 401, "invalid_token")
    assert "signature" in body["detail"]
    tampered = tenant.token().rsplit(".", 1)
    refused(client.get("/metrics", headers=bearer(tampered[0] + "." + tampered[1][::-1])), 401, "invalid_token")


def test_alg_none_and_hs256_keyed_with_the_public_key_are_refused(client, tenant):
    claims = tenant.claims(roles=[CONNECTIONS_ADMIN])
    public_jwk = tenant.fetch(f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys")["keys"][0]
    for token in (unsigned_token({"alg": "none", "typ": "JWT", "kid": "k1"}, claims),
                  unsigned_token({"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims,
                                 hmac_key=public_jwk["n"].encode())):
        body = refused(client.get("/metrics", headers=bearer(token)), 401, "invalid_token")
        assert "RS256" in body["detail"]


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.", "x" * 20_000])
def test_a_malformed_bearer_token_is_401_invalid_token(client, token):
    refused(client.get("/metrics", headers=bearer(token)), 401, "invalid_token")


def test_an_under_scoped_user_is_403(client, tenant):
    body = refused(client.post("/syncs", headers=bearer(tenant.token(roles=[METRICS_READ]))), 403, "forbidden")
    assert body["required_scope"] == SYNC_RUN
    refused(client.get("/metrics", headers=bearer(tenant.token(roles=None))), 403, "forbidden")


def test_a_stream_of_unknown_kids_cannot_make_the_app_refetch_signing_keys(client, tenant):
    tenant.published.discard("k2")
    assert client.get("/metrics", headers=bearer(tenant.token())).status_code == 200
    assert tenant.fetches == 1
    for _ in range(5):
        body = refused(client.get("/metrics", headers=bearer(tenant.token(kid="k2"))), 401, "invalid_token")
        assert "does not publish" in body["detail"]
    assert tenant.fetches == 1


def test_signing_keys_refetch_on_an_unknown_kid_at_most_once_a_minute(tenant):
    now = [1000.0]
    keys = SigningKeys("https://login.microsoftonline.com/" + TENANT + "/discovery/v2.0/keys", tenant.fetch,
                       clock=lambda: now[0])
    tenant.published.discard("k2")
    assert keys.get("k1") is not None and tenant.fetches == 1
    assert keys.get("k2") is None and tenant.fetches == 1  # fetched less than a minute ago
    tenant.published.add("k2")  # Entra rolls a new key
    now[0] += 61
    assert keys.get("k2") is not None and tenant.fetches == 2
    assert keys.get("k1") is not None and tenant.fetches == 2
    now[0] += 3600  # the cache ages out
    keys.get("k1")
    assert tenant.fetches == 3


def test_when_signing_keys_cannot_be_fetched_the_answer_is_503_not_a_user_error(keys):
    def down(url: str):
        raise OSError("network unreachable")

    app = make_app(Authenticator(keys, EntraValidator(TENANT, [AUDIENCE], fetch=down), False))
    with TestClient(app) as client:
        response = client.get("/metrics", headers=bearer(unsigned_token({"alg": "RS256", "kid": "k1"}, {})))
    assert response.status_code == 503 and response.json()["code"] == "signing_keys_unavailable"


def test_without_entra_settings_bearer_tokens_are_refused_but_keys_work(keys):
    issued = keys.create("no-entra", [METRICS_READ], actor="test")
    with TestClient(make_app(Authenticator(keys, None, False))) as client:
        response = client.get("/metrics", headers=bearer("eyJhbGciOiJSUzI1NiJ9.e30.sig"))
        assert response.status_code == 401 and response.headers["www-authenticate"] == CHALLENGE
        assert client.get("/metrics", headers=bearer(issued.text)).status_code == 200
