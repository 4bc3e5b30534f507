"""Planning a monday run: the directory and boards first, then the updates beside one item stream per readable
board from what the first phase loaded, then a phase that only notes a failed updates stream; incremental runs
start from each board's (and the updates') watermark and skip boards that did not move."""

from __future__ import annotations

import re

import pytest

from plugins.base import Plan
from plugins.monday import PLUGIN
from plugins.monday.boards import BoardInfo
from shared.db.connections import Connection

STATUS = [("status", {"labels": {"0": "Working on it", "1": "Done", "7": "Shipped"}, "done_colors": [7]})]
BOARDS = {
    "1": BoardInfo("1", "active", "board", "2026-05-01T00:00:00Z", False, "11", STATUS),
    "11": BoardInfo("11", "active", "sub_items_board", "2026-05-02T00:00:00Z", False, None, STATUS),
    "2": BoardInfo("2", "archived", "board", "2026-04-01T00:00:00Z", False, "22", []),
    "22": BoardInfo("22", "active", "sub_items_board", "2026-04-01T00:00:00Z", False, None, []),
    "3": BoardInfo("3", "deleted", "board", "2026-03-01T00:00:00Z", True, None, []),
    "4": BoardInfo("4", "active", "document", "2026-03-01T00:00:00Z", False, None, []),
}


class Loaded:
    """The storage the activity lends the plugin, in memory: the boards above as loaded, no call made today."""

    def known_boards(self, connection_id: str) -> dict[str, BoardInfo]:
        return BOARDS

    def calls_today(self, account_key: str) -> int:
        return 0


def planned(*args, **kwargs) -> Plan:
    return PLUGIN.plan(*args, store=Loaded(), **kwargs)


def connection(**config) -> Connection:
    return Connection("m", "monday", "m", {"api_token_secret": "conn-m-token", **config})


def test_the_first_phase_reads_the_directory_and_boards_whole_and_asks_for_a_second():
    plan = planned(connection(), "full", {}, 0, phase=0)
    # The updates wait for nothing, so they are not read here: their long chain would hold every board back.
    assert [(p.stream, p.sweep) for p in plan.streams] == [("directory", True), ("boards", True)]
    assert plan.next_phase and plan.refused is None


def test_an_incremental_second_phase_reads_updates_from_their_watermark_first():
    plan = planned(connection(), "incremental", {"updates": {"since": "2026-05-01T00:00:00Z"}}, 0, phase=1)
    updates = plan.streams[0]
    assert updates.stream == "updates"
    assert updates.cursor["since"] == "2026-05-01T00:00:00Z" and not updates.sweep


def test_a_full_second_phase_reads_the_updates_and_every_board_that_is_not_deleted_and_sweeps_each():
    plan = planned(connection(), "full", {}, 0, phase=1)
    assert {p.stream: p.sweep for p in plan.streams} == {"updates": True, "items:1": True, "items:11": True,
                                                         "items:2": True, "items:22": True}
    assert plan.streams[0].stream == "updates" and plan.streams[0].cursor["since"] is None
    assert plan.next_phase  # the last phase notes a failed updates stream
    first = next(p for p in plan.streams if p.stream == "items:1").cursor
    # Done by the "Done" label and by the board's done colour.
    assert first["status"] == {"column": "status", "done": [1, 7], "labels": ["Done"]}
    assert first["since"] is None and first["columns"] is None


def test_a_selection_reads_the_chosen_boards_and_their_subitems_boards_with_the_chosen_columns():
    plan = planned(connection(boards=["1"], columns={"1": ["date4"], "11": ["numbers"]}), "full", {}, 0, phase=1)
    cursors = {p.stream: p.cursor for p in plan.streams}
    assert set(cursors) == {"updates", "items:1", "items:11"}
    assert cursors["items:1"]["columns"] == ["date4", "status"]  # done is read from the main status
    assert cursors["items:11"]["columns"] == ["numbers", "status"]


def test_an_incremental_second_phase_continues_each_board_and_skips_the_ones_that_did_not_move():
    marks = {
        "items:1": {"since": "2026-04-30T00:00:00Z", "logs_from": "2026-04-30T01:00:00Z",
                    "board_updated_at": "2026-05-01T00:00:00Z"},  # unchanged
        "items:11": {"since": "2026-04-30T00:00:00Z", "logs_from": None,
                     "board_updated_at": "2026-04-30T00:00:00Z"},  # moved since
        "items:2": {"since": "2026-03-30T00:00:00Z", "board_updated_at": "2026-04-01T00:00:00Z"},
    }
    plan = planned(connection(), "incremental", marks, 0, phase=1)
    plans = {p.stream: p for p in plan.streams}
    assert set(plans) == {"updates", "items:11", "items:22"}
    assert plans["items:11"].cursor["since"] == "2026-04-30T00:00:00Z" and not plans["items:11"].sweep
    assert plans["items:22"].cursor["since"] is None and plans["items:22"].sweep  # never read: a complete read
    assert plan.notes == ["2 unchanged boards skipped"]
    every = planned(connection(skip_unchanged_boards=False), "incremental", marks, 0, phase=1)
    assert len(every.streams) == 5


def test_a_board_named_in_the_selection_but_never_seen_is_still_read_so_its_refusal_is_recorded():
    plan = planned(connection(boards=["99"]), "full", {}, 0, phase=1)
    assert [p.stream for p in plan.streams] == ["updates", "items:99"]


@pytest.mark.parametrize(("config", "message"), [
    ({}, "api_token_secret"),
    ({"api_token_secret": "conn-m-token", "plan": "gold"}, "plan must be one of"),
    ({"api_token_secret": "conn-m-token", "item_page_size": 501}, "item_page_size"),
    ({"api_token_secret": "conn-m-token", "api_version": "2026-04"}, "set it to 2026-07 or 2026-10"),
    ({"api_token_secret": "conn-m-token", "api_version": "2027-01"}, "set it to 2026-07 or 2026-10"),
    ({"api_token_secret": "conn-m-token", "list_page_size": 1001}, "list_page_size must be 1..1000"),
])
def test_settings_that_cannot_work_refuse_the_run_with_what_to_fix(config, message):
    plan = planned(Connection("m", "monday", "m", config), "full", {}, 0)
    assert plan.refused and message in plan.refused and not plan.streams


def test_a_complete_read_of_a_board_sweeps_only_that_boards_items():
    assert PLUGIN.sweep_scope("items:11") == {"items": {"board_id": "11"}}
    assert PLUGIN.sweep_scope("boards") == {"boards": {}, "groups": {}, "columns": {}}
    assert PLUGIN.sweep_scope("directory") == {"workspaces": {}, "users": {}, "teams": {}, "tags": {}}


def test_the_boards_left_unread_are_all_named_over_as_many_notes_as_it_takes():
    from plugins.monday.planning import _skipped_boards

    ids = [str(18_000_700_000 + n) for n in range(400)]
    notes = _skipped_boards(ids, "USER_UNAUTHORIZED")
    assert len(notes) > 1 and all(len(n) <= 2000 for n in notes)
    assert notes[0].startswith("items of 400 boards not synced: the boards stream failed (USER_UNAUTHORIZED)")
    assert re.findall(r"\b\d{11}\b", " ".join(notes)) == ids


def test_a_failed_directory_leaves_every_board_planned_and_says_what_was_not_synced():
    failed = {"directory": "USER_UNAUTHORIZED: no users:read"}
    plan = planned(connection(), "full", {}, 0, phase=1, failed=failed)
    assert [p.stream for p in plan.streams] == ["updates", "items:1", "items:11", "items:2", "items:22"]
    assert plan.notes == ["workspaces, users, teams and tags not synced: the directory stream failed "
                          "(USER_UNAUTHORIZED: no users:read)"]
    # Noted once: the last phase names only what failed beside the items.
    assert planned(connection(), "full", {}, 0, phase=2, failed=failed).notes == []


def test_a_failed_boards_stream_plans_no_items_and_names_each_board_it_would_have_read_but_reads_the_updates():
    plan = planned(connection(), "full", {}, 0, phase=1, failed={"boards": "HTTP 500", "directory": "timeout"})
    assert [(p.stream, p.sweep) for p in plan.streams] == [("updates", True)] and plan.next_phase
    assert plan.notes == ["items of 4 boards not synced: the boards stream failed (HTTP 500); boards 1, 11, 2, 22",
                          "workspaces, users, teams and tags not synced: the directory stream failed (timeout)"]


def test_a_failed_updates_stream_is_noted_by_a_last_phase_that_reads_nothing():
    failed = {"directory": "timeout", "updates": "HTTP 500: " + "x" * 400, "items:1": "HTTP 500"}
    plan = planned(connection(), "full", {}, 0, phase=2, failed=failed)
    assert plan.streams == [] and not plan.next_phase and plan.refused is None
    assert plan.notes == [f"updates not synced: the updates stream failed (HTTP 500: {'x' * 290})"]
    quiet = planned(connection(), "full", {}, 0, phase=2)
    assert quiet.streams == [] and quiet.notes == [] and not quiet.next_phase


# -- runs a webhook asked for (changed: hints from plugins/monday/webhooks.py) ---------------------------------------
MARKS = {
    "items:1": {"since": "2026-04-30T00:00:00Z", "logs_from": "2026-04-30T01:00:00Z",
                "board_updated_at": "2026-05-01T00:00:00Z"},
    "items:11": {"since": "2026-04-29T00:00:00Z", "logs_from": "2026-04-29T01:00:00Z",
                 "board_updated_at": "2026-05-02T00:00:00Z"},
    "updates": {"since": "2026-05-01T00:00:00Z"},
}


def test_a_board_hint_reads_only_that_board_and_its_subitems_from_their_watermarks_in_one_phase():
    plan = planned(connection(), "incremental", MARKS, 0, phase=0, changed=["board:1"])
    plans = {p.stream: p for p in plan.streams}
    # No directory, boards or updates stream: their watermarks stay where they are.
    assert set(plans) == {"items:1", "items:11"} and not plan.next_phase and plan.refused is None
    first = plans["items:1"].cursor
    # The same incremental read as a scheduled run's: items since the watermark, then the activity log from its
    # own watermark (archives, deletes and moves), the board read even though its updated_at did not move.
    assert first["since"] == "2026-04-30T00:00:00Z" and first["logs_from"] == "2026-04-30T01:00:00Z"
    assert first["step"] == "first" and not plans["items:1"].sweep
    assert first["status"] == {"column": "status", "done": [1, 7], "labels": ["Done"]}
    assert plans["items:11"].cursor["since"] == "2026-04-29T00:00:00Z"
    assert any("reading only the items of boards 1, 11" in note for note in plan.notes)


def test_a_hinted_board_never_read_before_is_read_completely_and_swept_alone():
    plan = planned(connection(), "incremental", {}, 0, phase=0, changed=["board:22"])
    assert [(p.stream, p.sweep, p.cursor["since"]) for p in plan.streams] == [("items:22", True, None)]
    assert PLUGIN.sweep_scope("items:22") == {"items": {"board_id": "22"}}


def test_an_updates_hint_reads_the_updates_from_their_watermark_and_nothing_else():
    plan = planned(connection(), "incremental", MARKS, 0, phase=0, changed=["updates"])
    assert [(p.stream, p.cursor["since"], p.sweep) for p in plan.streams] == [
        ("updates", "2026-05-01T00:00:00Z", False)]


def test_a_hint_for_a_board_outside_the_selection_reads_nothing_and_says_so():
    plan = planned(connection(boards=["2"]), "incremental", MARKS, 0, phase=0, changed=["board:1"])
    assert plan.streams == [] and not plan.next_phase
    assert any("boards 1 are not synced by this connection" in note for note in plan.notes)


@pytest.mark.parametrize(("changed", "why"), [
    (["board:1", "entity:Invoice"], "the change hint 'entity:Invoice' is not one this plugin names"),
    (["board:77"], "board 77 is not loaded yet"),
    (["board:3"], "board 3 is deleted"),
    (["board:x1"], "the change hint 'board:x1'"),
])
def test_a_hint_that_cannot_be_served_safely_plans_the_normal_incremental_run_and_says_why(changed, why):
    plan = planned(connection(), "incremental", MARKS, 0, phase=0, changed=changed)
    assert [p.stream for p in plan.streams] == ["directory", "boards"] and plan.next_phase
    assert any(why in note and "the normal incremental run instead" in note for note in plan.notes), plan.notes
    # Its second phase is the normal one too, the updates from their watermark included.
    then = planned(connection(), "incremental", MARKS, 0, phase=1, changed=changed)
    assert {"updates", "items:2"} <= {p.stream for p in then.streams}
    assert then.streams[0].cursor["since"] == "2026-05-01T00:00:00Z"


def test_hints_do_not_narrow_a_complete_read():
    plan = planned(connection(), "full", {}, 0, phase=0, changed=["board:1"])
    assert [p.stream for p in plan.streams] == ["directory", "boards"] and plan.next_phase
