"""Connections as code (plugins/connections_cli.py) against a real, migrated PostgreSQL, as the app role.

Most tests apply inside an outer transaction they roll back, so --prune never touches the other tests' connections
in the session database; one runs the command itself, committing, with ids of its own."""

from __future__ import annotations

import getpass
import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from plugins import connections_cli
from shared.db import audit
from shared.db.connections import Connection, connection_record, create_connection

ACTOR = "cli:test"


@pytest.fixture
def app_db(pg_dsn: str) -> Iterator[psycopg.Connection]:
    """The app role's connection (BIZ_PG_DSN, as the command uses), inside a transaction undone afterwards."""
    with psycopg.connect(os.environ["BIZ_PG_DSN"]) as conn, conn.transaction(force_rollback=True):
        yield conn


@pytest.fixture
def ids() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"qbo-{tag}", f"mon-{tag}"


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "connections.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _two(ids: tuple[str, str], qbo_name: str = "Acme books") -> str:
    qbo, mon = ids
    return f"""
connections:
  - id: {qbo}
    plugin: quickbooks
    display_name: {qbo_name}
    settings:
      realm_id: "9130350000000001"
      base_url: http://127.0.0.1:8761
      access_token_secret: conn-{qbo}-token
  - id: {mon}
    plugin: monday
    display_name: Acme boards
    enabled: false
    settings:
      api_token_secret: conn-{mon}-token
      base_url: http://127.0.0.1:8762
      plan: pro
"""


def _apply(db: psycopg.Connection, path: Path, *, check: bool = False, prune: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = connections_cli.run(path, check=check, prune=prune, db=db, actor=ACTOR, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_applying_creates_the_declared_connections_with_their_settings_and_audit_entries(app_db, tmp_path, ids):
    qbo, mon = ids
    code, out, _ = _apply(app_db, _file(tmp_path, _two(ids)))
    assert code == 0
    assert f"created   {qbo}" in out and f"created   {mon}" in out
    created = connection_record(app_db, qbo)
    assert created is not None and created.enabled
    assert created.connection == Connection(qbo, "quickbooks", "Acme books", {
        "realm_id": "9130350000000001", "base_url": "http://127.0.0.1:8761",
        "access_token_secret": f"conn-{qbo}-token"})
    disabled = connection_record(app_db, mon)
    assert disabled is not None and not disabled.enabled and disabled.connection.config["plan"] == "pro"
    entry, = audit.entries(app_db, target=qbo)
    assert (entry.actor, entry.action) == (ACTOR, "connection.created")
    assert entry.details["settings"] == ["access_token_secret", "base_url", "realm_id"]


def test_applying_the_same_file_twice_changes_nothing_the_second_time(app_db, tmp_path, ids):
    path = _file(tmp_path, _two(ids))
    assert _apply(app_db, path)[0] == 0
    before = [connection_record(app_db, cid) for cid in ids]
    code, out, _ = _apply(app_db, path)
    assert code == 0
    assert "0 created, 0 updated, 2 unchanged, 0 disabled" in out
    assert [connection_record(app_db, cid) for cid in ids] == before
    assert all(len(audit.entries(app_db, target=cid)) == 1 for cid in ids)  # only the creations


def test_a_changed_display_name_updates_only_that_connection(app_db, tmp_path, ids):
    qbo, mon = ids
    _apply(app_db, _file(tmp_path, _two(ids)))
    code, out, _ = _apply(app_db, _file(tmp_path, _two(ids, qbo_name="Acme Holdings books")))
    assert code == 0
    assert f"updated   {qbo} (display_name)" in out and f"unchanged {mon}" in out
    record = connection_record(app_db, qbo)
    assert record is not None and record.connection.display_name == "Acme Holdings books"
    changed = audit.entries(app_db, target=qbo, action="connection.changed")
    assert [(e.actor, e.details["fields"]) for e in changed] == [(ACTOR, ["display_name"])]


def test_check_shows_the_plan_and_writes_nothing(app_db, tmp_path, ids):
    code, out, _ = _apply(app_db, _file(tmp_path, _two(ids)), check=True)
    assert code == 0
    assert f"would be created   {ids[0]}" in out
    assert all(connection_record(app_db, cid) is None for cid in ids)
    assert all(audit.entries(app_db, target=cid) == [] for cid in ids)


def test_an_invalid_file_applies_nothing_and_lists_every_error(app_db, tmp_path, ids):
    qbo, mon = ids
    path = _file(tmp_path, f"""
connections:
  - id: {qbo}
    plugin: quickbooks
    display_name: A valid one, still not applied
    settings: {{realm_id: "1", base_url: "http://127.0.0.1:8761", access_token_secret: conn-{qbo}-token}}
  - id: all
    plugin: quickbooks
    display_name: Reserved
  - id: {mon}
    plugin: salesforce
    display_name: Unknown plugin
  - id: {mon}-b
    plugin: monday
    display_name: Someone else's secret
    settings: {{api_token_secret: conn-other-token}}
  - id: {mon}-c
    plugin: monday
    display_name: A secret value in the file
    settings: {{api_token_secret: conn-{mon}-c-token, api_token: "abc123"}}
  - id: {mon}-d
    plugin: monday
    display_name: A plan the plugin refuses
    settings: {{api_token_secret: conn-{mon}-d-token, plan: gold}}
  - id: {qbo}
    plugin: quickbooks
    display_name: Declared twice
    colour: blue
""")
    code, out, err = _apply(app_db, path)
    assert code == 1 and out == ""
    assert "7 error(s); nothing was applied" in err
    for expected in ("'all' is reserved", "No plugin named 'salesforce'", "'conn-other-token' is not one of this "
                     "connection's secrets", "settings.api_token looks like a credential",
                     "plan must be one of", f"id '{qbo}' is declared more than once", "unknown key 'colour'"):
        assert expected in err
    assert "abc123" not in err  # a secret value put in the file is not echoed back
    assert connection_record(app_db, qbo) is None and audit.entries(app_db, target=qbo) == []


def test_prune_disables_connections_the_file_leaves_out_and_never_deletes_them(app_db, tmp_path, ids):
    qbo, _ = ids
    stray = f"stray-{uuid.uuid4().hex[:8]}"
    create_connection(app_db, Connection(stray, "monday", "Made by hand", {"api_token_secret": f"conn-{stray}-token"}))
    path = _file(tmp_path, _two(ids))
    assert f"disabled  {stray}" not in _apply(app_db, path)[1]  # without --prune it is left alone
    assert connection_record(app_db, stray).enabled
    code, out, _ = _apply(app_db, path, prune=True)
    assert code == 0 and f"disabled  {stray} (not in the file)" in out and f"unchanged {qbo}" in out
    record = connection_record(app_db, stray)
    assert record is not None and not record.enabled
    entry, = audit.entries(app_db, target=stray)
    assert (entry.action, entry.details["enabled"]) == ("connection.changed", False)
    assert f"disabled  {stray}" not in _apply(app_db, path, prune=True)[1]  # already disabled: nothing to do


def test_the_command_applies_in_one_committed_transaction_as_the_os_user(pg_dsn, tmp_path, ids):
    path = _file(tmp_path, _two(ids))
    out, err = io.StringIO(), io.StringIO()
    assert connections_cli.main(["apply", str(path)], out=out, err=err) == 0, err.getvalue()
    assert "2 created" in out.getvalue()
    with psycopg.connect(pg_dsn) as conn:
        assert all(connection_record(conn, cid) is not None for cid in ids)
        assert {e.actor for cid in ids for e in audit.entries(conn, target=cid)} == {f"cli:{getpass.getuser()}"}
    assert connections_cli.main(["apply", str(path), "--check"], out=(again := io.StringIO()), err=err) == 0
    assert "0 created, 0 updated, 2 unchanged" in again.getvalue()


def test_the_example_file_in_the_repository_is_valid(app_db):
    example = Path(__file__).resolve().parents[2] / "connections.example.yaml"
    code, out, err = _apply(app_db, example, check=True)
    assert code == 0, err
    assert "qbo-demo" in out and "monday-demo" in out
