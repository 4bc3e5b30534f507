"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis), in-process against real
PostgreSQL, with a real API key holding every scope: no 5xx, and every answer matches the documented schema,
status codes and media types. Bounded: BIZ_FUZZ_EXAMPLES examples per operation (25 by default)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.auth.principal import SCOPES
from tests.api_calls import api_key

FUZZ_EXAMPLES = int(os.environ.get("BIZ_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
# The committed contract names the operations (tests/api/test_contract_files.py keeps it equal to the app's).
OPERATIONS = [(method.upper(), path) for path, item in json.loads(
    (Path(__file__).resolve().parents[2] / "api" / "openapi.json").read_text())["paths"].items() for method in item]


@pytest.fixture(scope="module")
def configured():
    """The settings a deployed app has (consent redirect URI, Intuit app, token-encryption and webhook secrets), so
    what is fuzzed is the app's handling of input, not a missing setting."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"QBO_REDIRECT_URI": "https://bizmetrics.example/api/connections/quickbooks/callback",
                            "SECRET_QBO_CLIENT_ID": "fuzz-client", "SECRET_QBO_CLIENT_SECRET": "fuzz-secret",
                            "SECRET_TOKEN_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
                            "SECRET_QBO_WEBHOOK_VERIFIER": "fuzz-verifier",
                            "SECRET_MONDAY_SIGNING_SECRET": "fuzz-signing-secret"}.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def fuzz_target(pg_dsn, landing_container, configured, tmp_path_factory):
    from api.app import create_app
    from devhost import LocalDurableHost
    from function_app import app as functions_app

    # Not driven: syncs the fuzzer manages to start stay pending in this throwaway store.
    host = LocalDurableHost(functions_app, tmp_path_factory.mktemp("fuzz") / "devhost.sqlite")
    api = create_app(durable_client=host.client())
    key = api_key(*SCOPES)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", api)
    # The credential is ours (a real key); generated Authorization / X-API-Key values would only test the 401 path,
    # which tests/api/test_auth_matrix.py covers route by route. Valid and invalid data both.
    schema.config.generation.update(with_security_parameters=False,
                                    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    yield schema, key
    host.close()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_operation_answers_5xx_or_breaks_its_documented_schema(fuzz_target, method, path):
    schema, key = fuzz_target
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)

    fuzz()
