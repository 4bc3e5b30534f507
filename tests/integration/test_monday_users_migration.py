"""Migration 0023 moves monday users loaded under API 2026-04 (enabled, is_admin, is_guest, is_pending) to the
2026-10 columns (status, kind, ...) without losing anything: mapped where the old flags are unambiguous, and
every payload byte-for-byte as it was."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from plugins import registry
from shared.db.migrate import migrate

pytestmark = pytest.mark.integration
MIGRATION = "0023_monday_users_2026_10.sql"


def _old_user(user_id: str, **flags: Any) -> dict[str, Any]:
    """A user as the plugin read it on 2026-04 (its payload is monday's record)."""
    return {"id": user_id, "name": f"User {user_id}", "email": f"u{user_id}@example.com", "title": "PM",
            "created_at": "2025-01-02", "join_date": "2025-01-03", "time_zone_identifier": "Europe/Paris",
            "country_code": "FR", "location": None, "teams": [{"id": "5"}], "is_view_only": False, **flags}


USERS = {
    "active-admin": _old_user("1", enabled=True, is_admin=True, is_guest=False, is_pending=False),
    "active-member": _old_user("2", enabled=True, is_admin=False, is_guest=False, is_pending=False),
    "pending-guest": _old_user("3", enabled=True, is_admin=False, is_guest=True, is_pending=True),
    "deactivated": _old_user("4", enabled=False, is_admin=False, is_guest=False, is_pending=False),
    "viewer": _old_user("5", enabled=True, is_admin=False, is_guest=False, is_pending=False, is_view_only=True),
    "flags-unknown": _old_user("6", enabled=None, is_admin=None, is_guest=None, is_pending=None,
                               is_view_only=None),
}


@pytest.fixture
def before_0023(new_db) -> str:
    """A throwaway database (migrated up to, not including, 0023, by the test)."""
    return new_db()


def _migrate_up_to_0022(dsn: str, tmp: Path) -> None:
    """Core and every plugin migrated, monday only up to its 0022."""
    folders = dict(registry.migration_folders())
    for path in sorted(folders["monday"].glob("*.sql")):
        if path.name < MIGRATION:
            shutil.copy(path, tmp / path.name)
    with psycopg.connect(dsn) as conn:
        migrate(conn, list({**folders, "monday": tmp}.items()))


def _load_old_rows(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        for record in USERS.values():
            conn.execute(
                """INSERT INTO monday_user (connection_id, id, created_at, updated_at, name, email, title, enabled,
                       is_admin, is_guest, is_pending, time_zone, country_code, team_ids, payload, run_id)
                   VALUES ('m', %s, '2025-01-02', '2026-09-01', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'r1')""",
                (record["id"], record["name"], record["email"], record["title"], record["enabled"], record["is_admin"],
                 record["is_guest"], record["is_pending"], record["time_zone_identifier"], record["country_code"],
                 ["5"], Jsonb(record)))


def test_old_user_columns_are_mapped_to_status_and_kind_and_every_payload_is_kept(before_0023: str,
                                                                                  tmp_path: Path) -> None:
    _migrate_up_to_0022(before_0023, tmp_path)
    _load_old_rows(before_0023)
    with psycopg.connect(before_0023) as conn:
        applied = migrate(conn, registry.migration_folders())
        rows = {r[0]: r[1:] for r in conn.execute(
            """SELECT id, status, kind, is_deleted, became_active_at, name, email, title, time_zone, country_code,
                      team_ids, payload FROM monday_user ORDER BY id""")}
        columns = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'monday_user'")}
    assert MIGRATION.removesuffix(".sql") in applied
    mapped = {user_id: (status, kind) for user_id, (status, kind, *_rest) in rows.items()}
    assert mapped == {"1": ("ACTIVE", "admin"), "2": ("ACTIVE", "member"), "3": ("PENDING", "guest"),
                      "4": ("INACTIVE", "member"), "5": ("ACTIVE", "view_only"), "6": (None, None)}
    for record in USERS.values():
        _status, _kind, deleted, active_since, *kept, payload = rows[record["id"]]
        assert payload == record  # the whole record, old flags and join_date included
        assert kept == [record["name"], record["email"], "PM", "Europe/Paris", "FR", ["5"]]
        assert deleted is None and active_since is None  # no sound source in the old fields
    assert {"status", "kind", "is_deleted", "became_active_at", "invitation_method"} <= columns
    assert not {"enabled", "is_admin", "is_guest", "is_pending"} & columns
