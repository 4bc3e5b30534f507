"""`python -m api.client sync` against the real app (its HTTP transport handed the app in process): it prints the run
id, passes a backfill's date on, prints the problem detail of a refusal with a non-zero exit code, and will not
send its key anywhere unsafe or without one."""

from __future__ import annotations

import datetime as dt
import io
import socket

import pytest
from fastapi.testclient import TestClient

from api.client import cli
from shared.db.connections import Connection, upsert_connection
from tests.api_calls import api_key

BASE = "http://127.0.0.1:8770"


@pytest.fixture
def app_transport(api_app):
    """The CLI's transport, answered by the app itself (the same requests a socket would carry)."""
    client = TestClient(api_app, raise_server_exceptions=False)

    def send(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        assert url.startswith(BASE)
        response = client.request(method, url.removeprefix(BASE), headers=headers, content=body)
        return response.status_code, response.content

    yield send
    client.close()


@pytest.fixture
def cli_env(monkeypatch, tmp_path, db, pepper):  # pepper: the app and the key below share it
    upsert_connection(db, Connection("cli-co", "quickbooks", "CLI Co", {"realm_id": "8"}))
    db.commit()
    monkeypatch.chdir(tmp_path)  # no .local/api-key of the worktree's
    monkeypatch.setenv("BIZ_API_URL", BASE + "/")
    monkeypatch.setenv("BIZ_API_KEY", api_key())
    monkeypatch.delenv("BIZ_API_KEY_FILE", raising=False)
    return monkeypatch


def run(transport, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["sync", *argv], transport=transport, out=out, err=err, sleep=lambda _: None)
    return code, out.getvalue(), err.getvalue()


def test_a_backfill_is_started_and_its_run_id_is_the_first_line_of_output(cli_env, app_transport, db):
    code, out, err = run(app_transport, "--connection", "cli-co", "--mode", "backfill", "--since", "2026-01-01")
    assert code == cli.OK, err
    run_id = out.splitlines()[0]
    assert run_id.startswith("run-") and "backfill from 2026-01-01 of cli-co" in err
    db.rollback()
    assert db.execute("SELECT mode, since FROM sync_runs WHERE run_id = %s", (run_id,)).fetchone() == (
        "backfill", dt.date(2026, 1, 1))


@pytest.mark.parametrize(("argv", "says"), [
    (("--mode", "backfill"), "mode backfill needs since"),
    (("--mode", "backfill", "--since", "2026-13-01"), "not a calendar date"),
    (("--mode", "backfill", "--since", "2999-01-01"), "in the future"),
    (("--since", "2026-01-01"), "since is for mode backfill only"),
])
def test_a_refused_request_prints_the_problem_detail_and_exits_2(cli_env, app_transport, argv, says):
    code, out, err = run(app_transport, "--connection", "cli-co", *argv)
    assert code == cli.REFUSED and out == ""
    assert "HTTP 422" in err and says in err and "(invalid_input)" in err


def test_an_unknown_connection_and_a_second_start_are_refusals_too(cli_env, app_transport):
    code, _, err = run(app_transport, "--connection", "nobody-co")
    assert code == cli.REFUSED and "HTTP 404" in err and "connection_not_found" in err
    code, out, _ = run(app_transport, "--connection", "cli-co")
    assert code == cli.OK
    # The local host is not driven here, so the first run is still pending: the second start is refused (409).
    code, _, err = run(app_transport, "--connection", "cli-co")
    assert code == cli.REFUSED and "HTTP 409" in err and out.strip() in err


def test_the_key_may_come_from_a_file(cli_env, app_transport, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(api_key() + "\n")
    cli_env.delenv("BIZ_API_KEY")
    cli_env.setenv("BIZ_API_KEY_FILE", str(key_file))
    assert run(app_transport, "--connection", "cli-co")[0] == cli.OK


def test_without_a_key_nothing_is_sent(cli_env):
    cli_env.delenv("BIZ_API_KEY")

    def never(*_):
        raise AssertionError("nothing may be sent without a key")

    code, _, err = run(never, "--connection", "cli-co")
    assert code == cli.REFUSED and "no API key" in err and "BIZ_API_KEY" in err


def test_a_key_is_never_sent_in_clear_text_to_another_host(cli_env):
    cli_env.setenv("BIZ_API_URL", "http://bizmetrics.example.com")

    def never(*_):
        raise AssertionError("the key must not leave over plain http")

    code, _, err = run(never, "--connection", "cli-co")
    assert code == cli.REFUSED and "clear text" in err and "https" in err


def test_an_api_that_does_not_answer_exits_3(cli_env):
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cli_env.setenv("BIZ_API_URL", f"http://127.0.0.1:{port}")
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["sync", "--connection", "cli-co"], out=out, err=err)
    assert code == cli.UNAVAILABLE and "did not answer" in err.getvalue()
