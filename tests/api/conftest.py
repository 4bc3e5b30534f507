"""Fixtures for the API tests: the real app, in-process, with callers holding chosen scopes.

`as_caller(*scopes)` gives a TestClient whose requests carry a credential of a Principal with those scopes.
Route tests use it; the credential checks themselves are tested against real API keys and signed tokens in
tests/api/test_auth_*.py and the matrix in tests/api/test_auth_matrix.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.principal import SCOPES, Principal
from api.problems import Problem


class ScopedTestAuthenticator:
    """Recognises `Authorization: Test <comma-separated scopes>[;<allowed connection>...]`: route tests only."""

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        raw = headers.get("authorization", "")
        if not raw.startswith("Test "):
            raise Problem(401, "unauthenticated", "No credential", headers={"WWW-Authenticate": "Bearer"})
        scopes, _, allowed = raw[5:].partition(";")
        return Principal(kind="key", subject="test", name="test", scopes=frozenset(s for s in scopes.split(",") if s),
                         connections=frozenset(allowed.split(",")) if allowed else None)


@pytest.fixture
def api_app(pg_dsn):
    return create_app(authenticator=ScopedTestAuthenticator())


@pytest.fixture
def as_caller(api_app) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(*scopes: str, connections: tuple[str, ...] = ()) -> TestClient:
        client = TestClient(api_app, raise_server_exceptions=False)
        client.headers["Authorization"] = f"Test {','.join(scopes or SCOPES)}" + (
            f";{','.join(connections)}" if connections else "")
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
