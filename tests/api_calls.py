"""Calling the API the way Azure does: through the Functions HTTP bridge (`api_http`) of a local Durable host, with
a real API key in the session's database. For tests that start and follow syncs."""

from __future__ import annotations

import json
import os
from typing import Any

import azure.functions as func
import psycopg

from api.auth.keys import PEPPER_SECRET, ApiKeys
from api.auth.principal import SCOPES
from api.starting import instance_id_for
from shared.core.secrets import env_name

# A fixed pepper for these calls (the auth tests set their own per test).
TEST_PEPPER = "test-pepper-for-api-calls-0123456789abcdef"


def api_key(*scopes: str, connections: tuple[str, ...] = ()) -> str:
    """A new real API key in BIZ_PG_DSN's database with these scopes (all by default)."""
    os.environ.setdefault(env_name(PEPPER_SECRET), TEST_PEPPER)
    keys = ApiKeys(lambda: psycopg.connect(os.environ["BIZ_PG_DSN"]))
    return keys.create("test", scopes or SCOPES, connections or None, actor="test:api_calls").text


def call(host: Any, method: str, path: str, body: Any = None, *, key: str | None = None,
         headers: dict[str, str] | None = None) -> func.HttpResponse:
    """`method path` through the Functions bridge; a body is sent as JSON."""
    sent = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {}),
            **(headers or {})}
    return host.invoke_http("api_http", method, url=f"http://localhost:7071{path}",
                            body=json.dumps(body).encode() if body is not None else b"", headers=sent)


def start_sync(host: Any, body: dict[str, Any], *, key: str | None = None) -> tuple[str, str]:
    """POST /api/syncs; returns (instance id, run id) and fails the test unless it is accepted."""
    response = call(host, "POST", "/api/syncs", body, key=key or api_key())
    assert response.status_code == 202, response.get_body()
    run_id = json.loads(response.get_body())["run_id"]
    return instance_id_for(body.get("connection_id") or "all"), run_id
