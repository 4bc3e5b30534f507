"""Every response recorded from the real monday API (tests/fixtures/reference/monday/vcr) parses through the plugin or
yields its documented error: each one is replayed from a loopback server to the plugin's own client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from plugins.monday import items, lists
from plugins.monday.plugin import MondayPlugin
from shared.core.http import ApiError
from shared.db.connections import Connection
from tests.reference import REFERENCE, Recorded, cassette
from tests.sim_server import serve

VCR = REFERENCE / "monday" / "vcr"

# The error each failing cassette documents (its name says what the Ruby client raised): (position, code).
DOCUMENTED = {
    "Account/_query/when_client_is_authenticated/when_a_field_that_doesn_t_exist_on_account_is_requested":
        (0, "undefinedField"),
    "Account/_query/when_client_is_not_authenticated": (0, "NOT_AUTHENTICATED"),
    "Board/_archive/when_client_is_authenticated/when_the_board_does_not_exist": (0, "USER_UNAUTHORIZED"),
    "Board/_create/when_client_is_authenticated/when_args_are_invalid": (0, "GRAPHQL_VALIDATION_FAILED"),
    "Board/_delete/when_client_is_authenticated/when_the_board_does_not_exist": (0, "InvalidBoardIdException"),
    "Board/_items_page/when_client_is_not_authenticated": (0, "NOT_AUTHENTICATED"),
    "Board/_query/when_client_is_authenticated/when_a_field_that_doesn_t_exist_on_boards_is_requested":
        (0, "GRAPHQL_VALIDATION_FAILED"),
    "Column/_change_metadata/when_client_is_authenticated/when_the_board_does_not_exist_for_the_given_board_id":
        (0, "INTERNAL_SERVER_ERROR"),
    "Column/_change_multiple_values/when_client_is_authenticated/when_the_column_values_are_invalid":
        (3, "InvalidColumnIdException"),
    "File/_clear_file_column/when_client_is_authenticated/when_the_board_does_not_exist_for_the_given_board_id":
        (0, "InvalidBoardIdException"),
    "Group/_duplicate/when_client_is_authenticated/when_a_the_group_with_the_given_group_ID_does_not_exist":
        (3, "ResourceNotFoundException"),
    "Item/_create/when_client_is_authenticated/when_the_board_does_not_exist_for_the_given_board_id":
        (0, "InvalidBoardIdException"),
    "Item/_duplicate/when_client_is_authenticated/when_the_board_does_not_exist_for_the_given_board_id":
        (0, "INTERNAL_SERVER_ERROR"),
    "Item/_page_by_column_values/when_client_is_authenticated/when_the_board_does_not_exist":
        (0, "InvalidBoardIdException"),
    "Update/_delete/when_client_is_authenticated/when_the_update_does_not_exist_for_the_given_ID":
        (0, "ResourceNotFoundException"),
    "Update/_like/when_client_is_authenticated/when_the_update_id_does_not_exist": (0, "UserUnauthorizedException"),
}
TRANSIENT = {"INTERNAL_SERVER_ERROR"}


def cassettes() -> list[Path]:
    return sorted(VCR.rglob("*.yml"))


def documented(path: Path) -> tuple[int, str] | None:
    name = str(path.parent.relative_to(VCR)).removeprefix("Monday_Resources_")
    return next((v for k, v in DOCUMENTED.items() if name.startswith(k)), None)


class NoDailyCap:
    def reserve_call(self, account_key: str, cap: int) -> int:
        return 1

    def mark_exhausted(self, account_key: str, cap: int) -> None:
        pass


@pytest.fixture(scope="module")
def replay() -> Iterator[tuple[str, dict[str, Recorded]]]:
    """A loopback server that answers every POST /v2 with the recorded response put in its slot."""
    slot: dict[str, Recorded] = {}

    async def answer(request: web.Request) -> web.Response:
        recorded = slot["next"]
        headers = {k: v for k, v in recorded.headers.items()
                   if k.lower() in ("api-version", "retry-after", "x-request-id")}
        return web.Response(status=recorded.status, body=recorded.body,
                            content_type=recorded.headers.get("Content-Type", "application/json").split(";")[0],
                            headers=headers)

    app = web.Application()
    app.router.add_post("/v2", answer)
    with serve(app) as url:
        yield url, slot


async def through_the_plugin(url: str, request_body: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The plugin's client and parsers, chosen by what the recorded request asked for."""
    monkeypatch.setenv("SECRET_CONN_VCR_TOKEN", "recorded-token")
    connection = Connection("vcr", "monday", "vcr", {
        "api_token_secret": "conn-vcr-token", "base_url": url, "version_mismatch": "accept", "retry_attempts": 1})
    async with aiohttp.ClientSession() as session:
        client = await MondayPlugin().open_api(connection, session, NoDailyCap())
        query = json.loads(request_body)["query"]
        if "items_page(" in query and "boards(" in query:
            cursor = items.start_cursor("18265981856", since=None, logs_from=None, status=None, columns=None,
                                        board_updated_at=None)
            cursor["logs_started"] = cursor["logs_done"] = True
            return await items.fetch(client, cursor)
        if query.startswith("query{items(ids"):
            cursor = items.start_cursor("1", since=None, logs_from=None, status=None, columns=None,
                                        board_updated_at=None)
            cursor.update(step="refresh", refresh=["123"], logs_started=True, logs_done=True)
            return await items.fetch(client, cursor)
        if query.startswith("query{boards{"):
            return await lists.fetch_boards(client, lists.boards_start(None))
        return await client.query("Directory", {"page": 1, "workspaces": True, "users": True, "first": True},
                                  rows=1)


def interactions() -> list[tuple[str, int, Path, Recorded, str]]:
    """(cassette, position, path, response, request body) of every recorded interaction, read once."""
    out = []
    for path in cassettes():
        requests = yaml.safe_load(path.read_text())["http_interactions"]
        for position, recorded in enumerate(cassette(str(path.relative_to(REFERENCE)))):
            out.append((str(path.relative_to(VCR)), position, path, recorded,
                        requests[position]["request"]["body"]["string"]))
    return out


ALL = interactions()


def test_the_reference_kit_has_every_cassette():
    assert len(cassettes()) == 25 and len(ALL) > 100


@pytest.mark.parametrize(("name", "position", "path", "recorded", "raw"), ALL,
                         ids=[f"{n}#{i}" for n, i, *_ in ALL])
async def test_recorded_response_parses_through_the_plugin_or_yields_its_documented_error(
        name, position, path, recorded, raw, replay, monkeypatch):
    url, slot = replay
    slot["next"] = recorded
    expected = documented(path)
    try:
        outcome = await through_the_plugin(url, raw, monkeypatch)
    except ApiError as error:
        assert expected is not None and expected[0] == position, f"unexpected error {error}"
        code = expected[1]
        if code in TRANSIENT:
            assert error.transient and code in str(error)
        else:
            assert error.code == code and str(error)
        assert "recorded-token" not in str(error)
        return
    assert expected is None or expected[0] != position, f"expected {expected} but it parsed"
    body = json.loads(recorded.body)
    query = json.loads(raw)["query"]
    if "items_page(" in query and "boards(" in query:
        page = body["data"]["boards"][0]["items_page"]
        assert [r["id"] for r in outcome.records] == [i["id"] for i in page["items"]]
        assert (outcome.next_cursor or {}).get("monday") == page["cursor"]
    elif query.startswith("query{items(ids"):
        # The recorded answer for an item that does not exist is []: the plugin tombstones what it asked for.
        assert body["data"]["items"] == [] and outcome.records[0]["tombstone"] is True
    elif query.startswith("query{boards{"):
        assert [r["id"] for r in outcome.records] == [b["id"] for b in body["data"]["boards"]]
    else:
        assert outcome.data == body["data"]
