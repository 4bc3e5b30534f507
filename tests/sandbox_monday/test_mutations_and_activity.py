"""The in-process mutation API: every change moves the clock, stamps updated_at and writes an activity log."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.monday import MondayState
from sandbox.monday.clock import iso_z, parse_instant

from .conftest import Api, main_boards

LOGS = "query ($b: [ID!], $from: ISO8601DateTime) { boards(ids: $b) { activity_logs(from: $from, limit: 50) " \
       "{ id event entity data created_at user_id } } }"


def _live(state: MondayState, board: str) -> list[str]:
    return [i for i in state.account().board(board).item_ids if state.account().items[i].state == "active"]


async def _logs(api: Api, board: str, since: str) -> list[dict[str, Any]]:
    return (await api.data(LOGS, {"b": [board], "from": since}))["boards"][0]["activity_logs"]  # type: ignore[no-any-return]


async def test_each_mutation_stamps_updated_at_with_the_sim_clock_and_moves_it_on(state: MondayState) -> None:
    board = main_boards(state)[0]
    item_id = _live(state, board)[0]
    before = state.clock.now()
    first = state.change_column_value(item_id, "status", "Done").updated_at
    assert first > before and (first - before).total_seconds() >= 1
    second = state.rename_item(item_id, "Another name").updated_at
    assert (second - first).total_seconds() >= 1 and state.clock.now() >= second
    assert state.account().board(board).updated_at == second


async def test_activity_logs_record_create_update_move_archive_and_delete(api: Api, state: MondayState) -> None:
    account = state.account()
    source, target = main_boards(state)[:2]
    since = iso_z(state.clock.now())
    created = state.create_item(source, "Fresh item", column_values={"status": "Working on it", "numbers": 12})
    state.change_column_value(created.id, "status", "Done")
    state.move_item_to_group(created.id, account.board(source).groups[1].id)
    first, second = _live(state, source)[:2]
    state.archive_item(first)
    state.delete_item(second)
    state.move_item_to_board(created.id, target)
    events = [(e["event"], json.loads(e["data"]).get("pulse_id")) for e in reversed(await _logs(api, source, since))]
    assert events == [("create_pulse", int(created.id)), ("update_column_value", int(created.id)),
                      ("move_pulse_into_group", int(created.id)), ("archive_pulse", int(first)),
                      ("delete_pulse", int(second)), ("move_pulse_from_board", int(created.id))]
    assert [e["event"] for e in await _logs(api, target, since)] == ["move_pulse_into_board"]


async def test_a_log_entry_carries_the_previous_value_and_a_17_digit_timestamp(api: Api, state: MondayState) -> None:
    board = main_boards(state)[0]
    item_id = _live(state, board)[0]
    since = iso_z(state.clock.now())
    item = state.change_column_value(item_id, "numbers", 99)
    entry = (await _logs(api, board, since))[0]
    data = json.loads(entry["data"])
    assert entry["event"] == "update_column_value" and data["column_id"] == "numbers" and data["value"] == "99"
    assert len(entry["created_at"]) == 17
    assert int(entry["created_at"]) == int(item.updated_at.timestamp()) * 10_000_000
    assert entry["user_id"] == state.account().owner_user_id


async def test_subitems_are_created_on_the_subitems_board(api: Api, state: MondayState) -> None:
    board = state.account().board(main_boards(state)[0])
    parent = _live(state, board.id)[0]
    sub = state.create_subitem(parent, "Extra step", column_values={"status": "Stuck"})
    assert sub.board_id == board.subitems_board_id and sub.parent_id == parent
    data = await api.data(f"query {{ items(ids: [{parent}]) {{ subitems {{ id name column_values(ids: [\"status\"]) "
                          "{ text } } } }")
    assert {"id": sub.id, "name": "Extra step", "column_values": [{"text": "Stuck"}]} in data["items"][0]["subitems"]


async def test_a_new_board_gets_a_group_and_a_starter_item_like_the_recorded_ones(state: MondayState) -> None:
    board = state.create_board("Empty Board", board_kind="private")
    assert [g.title for g in board.groups] == ["Group Title"]
    assert [state.account().items[i].name for i in board.item_ids] == ["Task 1"]


async def test_values_are_checked_against_the_column(state: MondayState) -> None:
    item_id = _live(state, main_boards(state)[0])[0]
    with pytest.raises(ValueError, match="no label"):
        state.change_column_value(item_id, "status", "Nope")
    with pytest.raises(KeyError):
        state.change_column_value(item_id, "no_such_column", "x")
    with pytest.raises(ValueError, match="cannot be written"):
        state.change_column_value(item_id, "subitems", [1])


async def test_values_of_every_writable_type_round_trip(api: Api, state: MondayState) -> None:
    board = state.account().board(main_boards(state)[0])
    other = _live(state, board.id)[5]
    user = state.account().owner_user_id
    item = state.create_item(board.id, "Typed", column_values={
        "status": "Stuck", "date4": "2026-06-01", "timeline": ("2026-06-01", "2026-06-09"), "numbers": 1.5,
        "person": [user], "checkbox": True, "dependency": [other], next(c.id for c in board.columns if
                                                                       c.type == "text"): "hello"})
    data = await api.data(f"query {{ items(ids: [{item.id}]) {{ column_values {{ id text }} }} }}")
    texts = {v["id"]: v["text"] for v in data["items"][0]["column_values"]}
    assert texts["status"] == "Stuck" and texts["date4"] == "2026-06-01" and texts["numbers"] == "1.5"
    assert texts["timeline"] == "2026-06-01 - 2026-06-09" and texts["checkbox"] == "v"
    assert texts["person"] == state.account().users[user].name and "hello" in texts.values()
    assert parse_instant(iso_z(item.updated_at)) == item.updated_at
