"""Users of every status (active, pending, inactive, deleted) are read exactly once and land with their
2026-07+ fields as typed columns, on each API version a connection may pin."""

from __future__ import annotations

import psycopg
import pytest

from tests.integration import monday_helpers
from tests.integration.monday_helpers import add_connection, sync

monday_sim = monday_helpers.monday_sim
pytestmark = pytest.mark.integration


@pytest.mark.parametrize("version", ["2026-07", "2026-10"])
def test_every_user_of_every_status_is_loaded_once_with_its_status_and_kind(host, monday_sim, pg_dsn,
                                                                            landing_container, monkeypatch, version):
    monkeypatch.setenv("SECRET_MONDAY_E2E_TOKEN", monday_helpers.TOKEN)
    account = monday_sim.account
    # More users than one page holds, so the list pages; the demo account has users of every status.
    connection = add_connection(pg_dsn, f"monday-users-{version}", monday_sim.url, api_version=version,
                                list_page_size=5)
    assert {(u.status, u.is_deleted) for u in account.users.values()} == {
        ("ACTIVE", False), ("PENDING", False), ("INACTIVE", False), ("INACTIVE", True)}
    streams = sync(host, connection, "full")
    with psycopg.connect(pg_dsn) as conn:
        rows = {r[0]: r[1:] for r in conn.execute(
            "SELECT id, status, kind, is_deleted, became_active_at IS NOT NULL, email FROM monday_user "
            "WHERE connection_id = %s AND deleted_at IS NULL", (connection,))}
    assert rows == {u.id: (u.status, u.kind, u.is_deleted, u.became_active_at is not None, u.email)
                    for u in account.users.values()}
    # Read once: the directory fetched each workspace, user, team and tag a single time.
    assert streams["directory"]["fetched"] == sum(len(x) for x in (account.workspaces, account.users, account.teams,
                                                                   account.tags))
