"""Logs reach Application Insights from every app logger, with credentials masked on the way out."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.core.redaction import RedactingFilter, redact

ROOT = Path(__file__).resolve().parents[2]
KEY = "bzk_abcdefghij_" + "S" * 43


@pytest.mark.parametrize(("text", "leak"), [
    (f"verifying {KEY} for a caller", KEY),
    ("Authorization: Bearer abc.def-ghi_jklmnop", "abc.def-ghi_jklmnop"),
    ("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl seen", "eyJhbGciOiJSUzI1NiJ9"),
    ('{"access_token": "at-very-secret", "expires_in": 3600}', "at-very-secret"),
    ("refresh_token=rt-very-secret&grant_type=refresh_token", "rt-very-secret"),
    ("client_secret: cs-very-secret", "cs-very-secret"),
    ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0a2V5PT0=;", "c2VjcmV0a2V5PT0="),
    ("GET /api/connections/quickbooks/callback?code=AB11-secret&state=x", "AB11-secret"),
])
def test_credentials_are_masked(text, leak):
    assert leak not in redact(text) and "***" in redact(text)


@pytest.mark.parametrize("text", ["QuickBooks fault code 3200 (authentication failed)",
                                  "run run-0123456789abcdef: fetched 1000 records in 3 pages",
                                  "GET /api/syncs -> 200 (key:abcdefghij)"])
def test_ordinary_messages_are_left_alone(text):
    assert redact(text) == text


def test_the_filter_masks_arguments_and_tracebacks_too():
    record = logging.LogRecord("activities.fetch", logging.ERROR, __file__, 1, "call failed with %s", (KEY,), None)
    try:
        raise RuntimeError(f"refused {KEY}")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    assert KEY not in record.getMessage() and KEY not in record.exc_text


CHECK = """
import json, logging
from shared.core.telemetry import configure_telemetry
assert configure_telemetry()
root = logging.getLogger()
seen = []
for handler in root.handlers:
    handler.emit = lambda record, _h=handler: seen.append((record.name, record.getMessage()))
logging.getLogger("activities.fetch").info("fetched page with key %s", %r)
logging.getLogger("api.routes.syncs").info("sync started")
logging.getLogger("azure.core.pipeline").info("Request URL: https://example/?sig=abc")
print(json.dumps({"seen": seen, "filters": [[type(f).__name__ for f in h.filters] for h in root.handlers]}))
"""


def test_every_app_logger_reaches_the_exporter_through_the_redaction_filter():
    """configure_telemetry() in a fresh interpreter with an ingestion endpoint nobody listens on (the exporter is
    the edge): the handler it installs sees the app's loggers, masked, and not the Azure SDK's INFO noise."""
    env = {**os.environ, "APPLICATIONINSIGHTS_CONNECTION_STRING":
           "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/",
           "OTEL_TRACES_EXPORTER": "none"}
    done = subprocess.run([sys.executable, "-c", CHECK.replace("%r", repr(KEY))], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    names = [name for name, _ in result["seen"]]
    assert "activities.fetch" in names and "api.routes.syncs" in names
    assert "azure.core.pipeline" not in names
    assert not any(KEY in message for _, message in result["seen"])
    assert any("RedactingFilter" in filters for filters in result["filters"])
