"""users() on 2026-07 and 2026-10: a status filter that defaults to [ACTIVE, PENDING], `non_active` meaning
only inactive users, 200 per page by default (1,000 at most), and the 2026-07 legacy fields derived from
`kind` and `status` as monday documents their replacements."""

from __future__ import annotations

import pytest

from sandbox.monday import MondayAccount, MondayState
from sandbox.monday.model import User

from .conftest import Api

VERSIONS = pytest.mark.parametrize("version", ["2026-07", "2026-10"])


def _ids(users: list[dict[str, str]]) -> list[str]:
    return [u["id"] for u in users]


def _with(account: MondayAccount, predicate) -> list[str]:  # type: ignore[no-untyped-def]
    return [u.id for u in account.users.values() if predicate(u)]


def test_the_demo_account_has_users_of_every_status(state: MondayState) -> None:
    users = state.account().users.values()
    assert {(u.status, u.is_deleted) for u in users} == {("ACTIVE", False), ("PENDING", False), ("INACTIVE", False),
                                                          ("INACTIVE", True)}
    assert {u.kind for u in users} >= {"admin", "member", "guest", "view_only"}


@VERSIONS
async def test_without_a_status_users_answers_active_and_pending_users_only(api: Api, state: MondayState,
                                                                             version: str) -> None:
    data = await api.data("query { users { id status } }", version=version)
    assert _ids(data["users"]) == _with(state.account(), lambda u: u.status in ("ACTIVE", "PENDING"))
    assert {u["status"] for u in data["users"]} == {"ACTIVE", "PENDING"}


@VERSIONS
async def test_non_active_true_answers_only_inactive_users_deleted_ones_included(api: Api, state: MondayState,
                                                                                 version: str) -> None:
    data = await api.data("query { users(non_active: true) { id status is_deleted } }", version=version)
    assert _ids(data["users"]) == _with(state.account(), lambda u: u.status == "INACTIVE")
    assert {u["is_deleted"] for u in data["users"]} == {True, False}
    active = await api.data("query { users(non_active: false) { id } }", version=version)
    assert _ids(active["users"]) == _with(state.account(), lambda u: u.status == "ACTIVE")


@VERSIONS
async def test_every_status_asked_for_answers_every_user_exactly_once(api: Api, state: MondayState,
                                                                      version: str) -> None:
    query = """query ($page: Int) { users(status: [ACTIVE, PENDING, INACTIVE], limit: 5, page: $page,
                                          sort: [{field: CREATED_AT, direction: ASC}]) { id } }"""
    seen: list[str] = []
    for page in range(1, 10):
        batch = _ids((await api.data(query, {"page": page}, version=version))["users"])
        seen += batch
        if len(batch) < 5:
            break
    assert sorted(seen) == sorted(state.account().users) and len(seen) == len(set(seen))


async def test_users_pages_by_200_by_default_and_refuses_more_than_1000(api: Api, state: MondayState) -> None:
    account = state.account()
    first = min(account.users.values(), key=lambda u: u.created_at)
    for n in range(250):
        account.users[f"9{n:05d}"] = User(id=f"9{n:05d}", name=f"Extra {n}", email=f"extra{n}@example.com",
                                         created_at=first.created_at)
    assert len((await api.data("query { users { id } }"))["users"]) == 200
    assert len((await api.data("query { users(page: 2) { id } }"))["users"]) > 0
    refused = await api.post("query { users(limit: 1001) { id } }")
    assert refused.error_codes() == ["InvalidArgumentException"]


async def test_2026_07_derives_the_deprecated_fields_from_kind_and_status(api: Api, state: MondayState) -> None:
    data = await api.data("""query { users(status: [ACTIVE, PENDING, INACTIVE]) {
        id kind status enabled is_admin is_guest is_pending is_view_only join_date became_active_at } }""",
                          version="2026-07")
    for user in data["users"]:
        assert user["enabled"] == (user["status"] != "INACTIVE")
        assert user["is_pending"] == (user["status"] == "PENDING")
        assert (user["is_admin"], user["is_guest"], user["is_view_only"]) == (
            user["kind"] == "admin", user["kind"] == "guest", user["kind"] == "view_only")
        assert (user["join_date"] is None) == (user["became_active_at"] is None)


async def test_user_kind_filters_by_the_kind_names(api: Api, state: MondayState) -> None:
    data = await api.data("query { users(user_kind: {in: [GUEST, ADMIN]}) { id kind } }")
    assert {u["kind"] for u in data["users"]} == {"guest", "admin"}
