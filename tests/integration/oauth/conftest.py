"""Fixtures for the OAuth tests: a QuickBooks simulator over loopback that counts token-endpoint calls,
the app's secrets in the environment, and QuickBooks connections with stored tokens in real PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
import pytest
from aiohttp import web

from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, ThrottleLimits, create_app
from shared.db.connections import Connection, upsert_connection
from shared.tokens.crypto import Keyring
from shared.tokens.store import TokenSet, save_consent, utcnow
from tests.sim_server import serve

REALM = "9130350000000042"
CLIENT_ID = "oauth-test-client"
CLIENT_SECRET = "oauth-test-client-secret"
CODES = ("auth-code-1", "auth-code-2", "auth-code-3")
TOKEN_PATH = "/oauth2/v1/tokens/bearer"


@dataclass
class Sim:
    """The simulator's state, its URL, and every token-endpoint call it answered (status, grant)."""

    state: SimulatorState
    url: str
    token_calls: list[tuple[int, str]] = field(default_factory=list)
    initial_refresh_token: str = ""

    def refresh_calls(self) -> list[int]:
        return [status for status, grant in self.token_calls if grant == "refresh_token"]

    def current_refresh_token(self) -> str | None:
        return self.state.oauth.current_refresh_token(REALM)

    def query_status(self, access_token: str) -> int:
        """What the API answers a query made with this access token (200 when it works)."""
        query = quote("SELECT COUNT(*) FROM Customer")
        request = urllib.request.Request(f"{self.url}/v3/company/{REALM}/query?query={query}&minorversion=75",
                                         headers={"Authorization": f"Bearer {access_token}",
                                                  "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def refresh_outside_our_store(self, refresh_token: str) -> dict[str, Any]:
        """Another client (e.g. a second app install) refreshes with the token: the simulator rotates it."""
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        request = urllib.request.Request(
            self.url + TOKEN_PATH, method="POST",
            data=urlencode({"grant_type": "refresh_token", "refresh_token": refresh_token}).encode(),
            headers={"Authorization": f"Basic {basic}", "Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


@pytest.fixture(scope="session")
def oauth_company() -> DemoCompany:
    return DemoCompany.generate(realm_id=REALM, seed=5, customers=8, invoices=12, payments=6)


def _counting(sim: Sim, delay: float) -> Any:
    @web.middleware
    async def count_token_calls(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != TOKEN_PATH:
            return await handler(request)
        grant = str((await request.post()).get("grant_type") or "")
        # A slow token endpoint makes concurrent callers really overlap while one of them refreshes.
        await asyncio.sleep(delay)
        response = await handler(request)
        sim.token_calls.append((response.status, grant))
        return response
    return count_token_calls


def _start(company: DemoCompany, token_delay: float) -> Iterator[Sim]:
    initial = f"rt-initial-{secrets.token_hex(8)}"
    state = SimulatorState(companies=[company], clock=SimClock(frozen=True), refresh_tokens={REALM: initial},
                           authorization_codes={code: REALM for code in CODES}, client_id=CLIENT_ID,
                           client_secret=CLIENT_SECRET, limits=ThrottleLimits(per_second=None, per_minute=None))
    sim = Sim(state, "", initial_refresh_token=initial)
    app = create_app(state)
    app.middlewares.append(_counting(sim, token_delay))
    with serve(app) as url:
        sim.url = url
        yield sim


@pytest.fixture
def sim(oauth_company: DemoCompany) -> Iterator[Sim]:
    yield from _start(oauth_company, token_delay=0.0)


@pytest.fixture
def slow_sim(oauth_company: DemoCompany) -> Iterator[Sim]:
    yield from _start(oauth_company, token_delay=0.5)


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def oauth_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The app's secrets as local settings provide them (EnvSecrets)."""
    values = {"SECRET_TOKEN_ENCRYPTION_KEY": new_key(), "SECRET_QBO_CLIENT_ID": CLIENT_ID,
              "SECRET_QBO_CLIENT_SECRET": CLIENT_SECRET}
    monkeypatch.delenv("KEY_VAULT_URL", raising=False)
    monkeypatch.delenv("SECRET_TOKEN_ENCRYPTION_KEY_PREVIOUS", raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@dataclass
class QboConnection:
    connection: Connection
    dsn: str

    @property
    def connection_id(self) -> str:
        return self.connection.connection_id

    def store(self, access_token: str, refresh_token: str, access_expires_at: datetime) -> None:
        """Tokens as a finished consent would have stored them."""
        tokens = TokenSet(access_token, refresh_token, access_expires_at, utcnow() + timedelta(days=100))
        with psycopg.connect(self.dsn) as conn:
            save_consent(conn, self.connection_id, tokens, Keyring.from_secrets())

    def expire_access_token(self, at: datetime | None = None) -> None:
        with psycopg.connect(self.dsn) as conn:
            conn.execute("UPDATE oauth_tokens SET access_expires_at = %s WHERE connection_id = %s",
                         (at or utcnow() - timedelta(minutes=1), self.connection_id))

    def row(self) -> dict[str, Any]:
        with psycopg.connect(self.dsn) as conn:
            cur = conn.execute("SELECT * FROM oauth_tokens WHERE connection_id = %s", (self.connection_id,))
            values = cur.fetchone()
            assert values is not None
            return dict(zip([c.name for c in cur.description], values, strict=True))

    def status(self) -> tuple[str, str | None]:
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute("SELECT status, status_reason FROM connections WHERE connection_id = %s",
                               (self.connection_id,)).fetchone()
        assert row is not None
        return row[0], row[1]


@pytest.fixture
def qbo_connection(pg_dsn: str, oauth_env: dict[str, str]) -> Callable[..., QboConnection]:
    """Make a QuickBooks connection to a simulator; its stored refresh token is the simulator's current one."""

    def make(sim_: Sim, *, access_expires_in: timedelta = timedelta(minutes=-1)) -> QboConnection:
        cid = f"qbo-oauth-{uuid.uuid4().hex[:10]}"
        connection = Connection(cid, "quickbooks", "OAuth test company",
                                {"realm_id": REALM, "environment": "sandbox", "auth": "oauth", "base_url": sim_.url})
        with psycopg.connect(pg_dsn) as conn:
            upsert_connection(conn, connection)
        made = QboConnection(connection, pg_dsn)
        made.store("at-stale-" + secrets.token_hex(8), sim_.initial_refresh_token, utcnow() + access_expires_in)
        return made

    return make


def exception_text(exc: BaseException) -> str:
    """Everything a log or a status API could show of an error: message, repr, traceback, causes."""
    return "".join(traceback.format_exception(exc)) + repr(exc)
