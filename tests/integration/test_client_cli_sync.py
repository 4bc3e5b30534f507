"""The operator's CLI follows a run to its end (--wait): a backfill that succeeds exits 0 with the run's counts, one
the plugin refuses exits 1 with the refusal; over a real socket against the `make api` server too."""

from __future__ import annotations

import io

import psycopg
import pytest

from api.client import cli
from api.starting import instance_id_for
from tests.api_calls import api_key
from tests.integration.helpers import CONNECTION, sync
from tests.integration.test_api_server import change_queue, server  # noqa: F401 (the `make api` server, fixtures)

BRIDGE = "http://localhost:7071"


@pytest.fixture
def bridged(host, monkeypatch):
    """The CLI's transport: the Functions HTTP bridge of the local host, which runs the syncs while the CLI waits
    between polls (its `sleep`)."""
    monkeypatch.setenv("BIZ_API_URL", BRIDGE)
    monkeypatch.setenv("BIZ_API_KEY", api_key())

    def send(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        response = host.invoke_http("api_http", method, url=url, body=body or b"", headers=headers)
        return response.status_code, response.get_body()

    def sleep(_: float) -> None:
        host.run_until_complete(instance_id_for(CONNECTION), timeout=300)

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(["sync", "--connection", CONNECTION, *argv], transport=send, out=out, err=err, sleep=sleep)
        return code, out.getvalue(), err.getvalue()

    return run


def test_waiting_for_a_backfill_prints_its_progress_and_exits_0_when_it_succeeds(host, connection, bridged):
    sync(host, "full")
    code, out, err = bridged("--mode", "backfill", "--since", "2026-01-01", "--wait", "--interval", "0")
    assert code == cli.OK, err
    run_id = out.strip()
    assert f"{run_id} succeeded: 2/2 streams done" in err  # Invoice and Payment
    assert "note (qbo-e2e): backfill from 2026-01-01" in err


def test_a_backfill_the_plugin_refuses_ends_the_wait_with_exit_1_and_the_reason(host, connection, bridged, pg_dsn):
    with psycopg.connect(pg_dsn) as conn:  # lists only: nothing a backfill re-reads
        conn.execute("""UPDATE connections SET config = config || '{"streams": ["Customer"]}'
                        WHERE connection_id = %s""", (CONNECTION,))
    code, _, err = bridged("--mode", "backfill", "--since", "2026-01-01", "--wait", "--interval", "0")
    assert code == cli.RUN_NOT_SUCCEEDED
    assert "failed" in err and "error (qbo-e2e): QuickBooks backfill: this connection reads no transaction" in err


def test_the_cli_starts_and_follows_a_backfill_over_http_against_the_local_api_server(server, connection,  # noqa: F811
                                                                                      monkeypatch):
    base, key = server
    monkeypatch.setenv("BIZ_API_URL", base)
    monkeypatch.setenv("BIZ_API_KEY", key)
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["sync", "--connection", connection, "--mode", "backfill", "--since", "2026-01-01", "--wait",
                     "--interval", "0.5", "--timeout", "120"], out=out, err=err)
    assert code == cli.OK, err.getvalue()
    assert out.getvalue().strip().startswith("run-") and "succeeded" in err.getvalue()
