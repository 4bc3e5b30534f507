"""Fixtures for the API's access-control tests: a pepper, API keys in the test database, a fake Entra tenant
(its signing keys are generated here; the JWKS fetch is the one edge replaced) and a tiny app using requires()."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from api.auth import METRICS_READ, SYNC_RUN, Authenticator, Principal, check_connection, requires
from api.auth.entra import EntraValidator
from api.auth.keys import PEPPER_SECRET, PREVIOUS_PEPPER_SECRET, ApiKeys
from api.problems import MEDIA_TYPE, Problem
from shared.core.secrets import env_name
from shared.db.connections import Connection, upsert_connection

TENANT = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
AUDIENCE = "api://bizmetrics-test"
CLIENT_ID = "0b4c7e52-9a1d-4f3e-b2c8-5d6e7f8a9b0c"
ALLOWED, OTHER = "auth-acme", "auth-globex"


@pytest.fixture
def pepper(monkeypatch) -> str:
    """Local runs read the pepper from SECRET_API_KEY_PEPPER (EnvSecrets); each test gets a fresh one."""
    value = secrets.token_urlsafe(32)
    monkeypatch.setenv(env_name(PEPPER_SECRET), value)
    monkeypatch.delenv(env_name(PREVIOUS_PEPPER_SECRET), raising=False)
    return value


class Clock:
    """The API-key store's time source, moved forward by tests (database rows keep the times it gives)."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def conn_factory(pg_dsn: str) -> Callable[[], psycopg.Connection]:
    return lambda: psycopg.connect(pg_dsn)


@pytest.fixture
def connections(pg_dsn: str) -> tuple[str, str]:
    with psycopg.connect(pg_dsn) as conn:
        for cid in (ALLOWED, OTHER):
            upsert_connection(conn, Connection(cid, "quickbooks", cid, {}))
    return ALLOWED, OTHER


@pytest.fixture
def keys(conn_factory, pepper, clock, connections) -> ApiKeys:
    return ApiKeys(conn_factory, clock=clock)


class Tenant:
    """A stand-in for an Entra tenant: RSA signing keys, their JWKS, and tokens signed with them."""

    def __init__(self, signing: dict[str, rsa.RSAPrivateKey]) -> None:
        self.signing = dict(signing)
        self.published = set(signing)
        self.fetches = 0

    def fetch(self, url: str) -> dict[str, Any]:
        assert url == f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys"
        self.fetches += 1
        keys = []
        for kid in sorted(self.published):
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.signing[kid].public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "kty": "RSA"})
        return {"keys": keys}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0", "aud": AUDIENCE, "tid": TENANT,
                  "oid": "2a7c1e9f-0000-4000-8000-00000000beef", "preferred_username": "ada@contoso.test",
                  "roles": [METRICS_READ], "iat": now, "nbf": now, "exp": now + 3600}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, *, kid: str = "k1", key: rsa.RSAPrivateKey | None = None, **overrides: Any) -> str:
        return jwt.encode(self.claims(**overrides), key or self.signing[kid], algorithm="RS256",
                          headers={"kid": kid})


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], hmac_key: bytes | None = None) -> str:
    """A JWT built by hand, for algorithms PyJWT refuses to sign with ('none', HS256 keyed with a public key)."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = b64(hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()) if hmac_key else ""
    return f"{signing_input}.{signature}"


@pytest.fixture(scope="session")
def rsa_keys() -> dict[str, rsa.RSAPrivateKey]:
    return {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048) for kid in ("k1", "k2", "evil")}


@pytest.fixture
def tenant(rsa_keys) -> Tenant:
    return Tenant({"k1": rsa_keys["k1"], "k2": rsa_keys["k2"]})


@pytest.fixture
def entra(tenant) -> EntraValidator:
    return EntraValidator(TENANT, [AUDIENCE, CLIENT_ID], fetch=tenant.fetch)


def make_app(authenticator: Authenticator) -> FastAPI:
    """The smallest app with the shapes real routes have: open liveness, scoped reads and writes, one connection."""
    app = FastAPI()
    app.state.authenticator = authenticator

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return JSONResponse(exc.body(request.url.path), status_code=exc.status, headers=exc.headers,
                            media_type=MEDIA_TYPE)

    def who(p: Principal) -> dict[str, Any]:
        return {"actor": p.actor, "kind": p.kind, "scopes": sorted(p.scopes),
                "connections": sorted(p.connections) if p.connections is not None else None}

    @app.get("/live")
    def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics(p: Annotated[Principal, Depends(requires(METRICS_READ))]) -> dict[str, Any]:
        return who(p)

    @app.post("/syncs")
    def start_sync(p: Annotated[Principal, Depends(requires(SYNC_RUN))]) -> dict[str, Any]:
        return who(p)

    @app.get("/connections/{connection_id}")
    def connection(connection_id: str, p: Annotated[Principal, Depends(requires(METRICS_READ))]) -> dict[str, Any]:
        check_connection(p, connection_id)
        return {"connection_id": connection_id}

    return app


@pytest.fixture
def authenticator(keys, entra) -> Authenticator:
    return Authenticator(keys, entra, trust_app_service_auth=False)


@pytest.fixture
def client(authenticator) -> Iterator[TestClient]:
    with TestClient(make_app(authenticator)) as test_client:
        yield test_client


CHALLENGE = 'Bearer realm="bizmetrics"'


def bearer(text: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {text}"}


def refused(response, status: int, code: str) -> dict[str, Any]:
    """Assert a problem-details refusal (with the challenge on 401s) and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code and body["status"] == status
    if status == 401:
        assert response.headers["www-authenticate"] == CHALLENGE
    return body


def key_row(pg_dsn: str, key_id: str) -> dict[str, Any]:
    with psycopg.connect(pg_dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        row = cur.execute("SELECT * FROM api_keys WHERE key_id = %s", (key_id,)).fetchone()
    assert row is not None
    return row


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- the real app, for route tests -------------------------------------------------------------------------------

@pytest.fixture
def api_app(pg_dsn, landing_container, pepper, tmp_path):
    """The real API with the real Authenticator (API keys peppered with this test's pepper; no Entra tenant) and
    a local Durable host's client; the host is not driven, so a sync a test starts stays pending."""
    from api.app import create_app
    from devhost import LocalDurableHost
    from function_app import app as functions_app

    host = LocalDurableHost(functions_app, tmp_path / "devhost.sqlite")
    yield create_app(durable_client=host.client())
    host.close()


@pytest.fixture
def as_caller(api_app, conn_factory) -> Iterator[Callable[..., TestClient]]:
    """`as_caller(*scopes, connections=(...))`: a TestClient on the real app carrying a real API key with those
    scopes (all by default), limited to `connections` when given (they must exist)."""
    from api.auth import SCOPES

    keys = ApiKeys(conn_factory)
    clients: list[TestClient] = []

    def make(*scopes: str, connections: tuple[str, ...] = ()) -> TestClient:
        issued = keys.create(unique("route-test"), scopes or SCOPES, connections or None, actor="test:as_caller")
        client = TestClient(api_app, raise_server_exceptions=False)
        client.headers["Authorization"] = f"Bearer {issued.text}"
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
