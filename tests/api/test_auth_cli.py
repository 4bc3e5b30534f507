"""`python -m api.auth` as an operator runs it: a real process against the test database."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from api.auth import METRICS_READ
from api.auth.cli import parse_duration
from shared.db.audit import entries
from tests.api.conftest import ALLOWED, key_row, unique

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(pg_dsn, pepper, connections):
    env = {**os.environ, "BIZ_PG_DSN": pg_dsn}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "api.auth", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
        assert (done.returncode == 0) == ok, done.stderr
        return done
    return run


def test_create_prints_the_key_once_on_stdout_and_never_on_stderr(cli, keys, pg_dsn):
    name = unique("grafana")
    created = cli("create", "--name", name, "--scope", METRICS_READ, "--connection", ALLOWED, "--expires-in", "90d")
    text = created.stdout.strip()
    assert text.startswith("bzk_") and "\n" not in text
    key = keys.verify(text)  # the printed key is the one stored
    assert key.name == name and key.connections == frozenset({ALLOWED}) and key.created_by == f"cli:{getpass.getuser()}"
    assert text not in created.stderr and key.key_id in created.stderr and "not be shown again" in created.stderr

    listed = cli("list")
    assert key.key_id in listed.stdout and name in listed.stdout and "active" in listed.stdout
    assert text not in listed.stdout + listed.stderr
    assert key_row(pg_dsn, key.key_id)["key_hash"] not in listed.stdout

    rotated = cli("rotate", key.key_id, "--grace", "1h")
    new_text = rotated.stdout.strip()
    assert new_text.startswith("bzk_") and new_text != text
    assert text not in rotated.stderr and new_text not in rotated.stderr and "keeps working until" in rotated.stderr
    revoked = cli("revoke", key.key_id)
    assert text not in revoked.stdout + revoked.stderr
    assert f"{key.key_id}" in revoked.stderr
    assert "revoked" in cli("list").stdout

    with psycopg.connect(pg_dsn) as conn:
        actions = [(e.action, e.actor) for e in entries(conn, target=key.key_id)]
    actor = f"cli:{getpass.getuser()}"
    assert actions == [("api_key.revoked", actor), ("api_key.rotated", actor), ("api_key.created", actor)]


def test_the_cli_refuses_bad_input_with_a_message_and_no_traceback(cli):
    for args in (("create", "--name", "x", "--scope", "Everything"),
                 ("create", "--name", "x", "--scope", METRICS_READ, "--connection", "no-such-connection"),
                 ("create", "--name", "x", "--scope", METRICS_READ, "--expires-in", "soon"),
                 ("revoke", "nosuchkey0")):
        done = cli(*args, ok=False)
        assert "Traceback" not in done.stderr and done.stdout == ""


def test_durations_read_as_operators_write_them():
    assert parse_duration("90d").days == 90
    assert parse_duration("24h").total_seconds() == 86400
    assert parse_duration("2w").days == 14
    assert parse_duration("30m").total_seconds() == 1800
