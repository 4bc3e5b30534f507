"""How a landed monday envelope becomes rows: typed column values, the item's done state, log entries, boards
with their groups and columns, tombstones; and what is quarantined."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest

from plugins.monday import PLUGIN
from plugins.monday.timestamps import parse_log_stamp
from plugins.monday.values import VALUE_COLUMNS, value_row

UTC = dt.UTC
STATUS = {"column": "status", "done": [1], "labels": ["Done"]}


def row(value: dict) -> dict:
    return dict(zip((c.name for c in VALUE_COLUMNS), value_row(value), strict=True))


def item(*values: dict, state: str = "active", **fields) -> dict:
    return {"kind": "item", "id": "7", "status": fields.pop("status", STATUS), "observed_at": "2026-05-04T09:00:00Z",
            "record": {"id": "7", "name": "Ship it", "state": state, "created_at": "2026-01-01T10:00:00Z",
                       "updated_at": "2026-03-01T10:00:00Z", "creator_id": "42", "board": {"id": "100"},
                       "group": {"id": "topics", "title": "This sprint"}, "parent_item": fields.pop("parent", None),
                       "column_values": list(values), **fields}}


def status(index: int | None, label: str | None, *, is_done: bool | None = None, column: str = "status") -> dict:
    value = None if index is None else json.dumps({"index": index, "changed_at": "2026-02-03T04:05:06.789Z"})
    return {"id": column, "type": "status", "text": label or "", "value": value, "index": index, "label": label,
            "is_done": is_done, "updated_at": "2026-02-03T04:05:06Z"}


def test_each_column_type_keeps_value_and_text_and_gets_its_typed_parts():
    people = row({"id": "person", "type": "people", "text": "Amy, Growth",
                  "value": '{"personsAndTeams":[{"id":1,"kind":"person"},{"id":9,"kind":"team"}]}',
                  "persons_and_teams": [{"id": "1", "kind": "person"}, {"id": "9", "kind": "team"}]})
    assert people["person_ids"] == ["1"] and people["team_ids"] == ["9"] and people["text"] == "Amy, Growth"
    assert people["value"].obj == {"personsAndTeams": [{"id": 1, "kind": "person"}, {"id": 9, "kind": "team"}]}
    date = row({"id": "date4", "type": "date", "text": "2026-05-04 14:30", "date": "2026-05-04", "time": "14:30:00",
                "value": '{"date":"2026-05-04","time":"14:30:00","changed_at":"2026-05-01T00:00:00.000Z"}'})
    assert (date["date_value"], date["time_value"]) == (dt.date(2026, 5, 4), "14:30:00")
    assert date["changed_at"] == dt.datetime(2026, 5, 1, tzinfo=UTC)
    numbers = row({"id": "numbers", "type": "numbers", "text": "1234.5", "value": '"1234.5"', "number": 1234.5})
    assert numbers["number"] == Decimal("1234.5")
    timeline = row({"id": "timeline", "type": "timeline", "text": "2026-05-01 - 2026-05-09", "from": "2026-05-01",
                    "to": "2026-05-09", "value": '{"from":"2026-05-01","to":"2026-05-09"}'})
    assert (timeline["timeline_from"], timeline["timeline_to"]) == (dt.date(2026, 5, 1), dt.date(2026, 5, 9))
    checkbox = row({"id": "checkbox", "type": "checkbox", "text": "v", "checked": True,
                    "value": '{"checked":"true"}'})
    assert checkbox["checked"] is True and checkbox["text"] == "v"
    done = row(status(1, "Done", is_done=True))
    assert (done["label"], done["label_index"], done["is_done"]) == ("Done", 1, True)


@pytest.mark.parametrize("kind", ["mirror", "board_relation", "dependency"])
def test_columns_monday_leaves_without_text_are_read_from_display_value(kind):
    value = {"id": f"{kind}_1", "type": kind, "text": "", "display_value": "Launch webinar, Draft Q3 report",
             "value": '{"linkedPulseIds":[{"linkedPulseId":11},{"linkedPulseId":12}]}' if kind != "mirror" else None}
    if kind != "mirror":
        value["linked_item_ids"] = ["11", "12"]
    parts = row(value)
    assert parts["text"] == "" and parts["display_value"] == "Launch webinar, Draft Q3 report"
    assert parts["linked_item_ids"] == (None if kind == "mirror" else ["11", "12"])


def test_an_item_is_done_by_its_main_status_label_or_a_done_colour_and_since_its_status_changed():
    raw = PLUGIN.to_raw("items", item(status(1, "Done")))
    board_id, group_id, _, _, _, state, creator, column, label, index, done, done_at = raw.typed
    assert (board_id, group_id, state, creator, column, label, index, done) == (
        "100", "topics", "active", "42", "status", "Done", 1, True)
    assert done_at == dt.datetime(2026, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)  # the value's changed_at
    shipped = {"column": "status", "done": [4], "labels": ["Done"]}  # a board whose done colour is "Shipped"
    assert PLUGIN.to_raw("items", item(status(4, "Shipped"), status=shipped)).typed[10] is True
    assert PLUGIN.to_raw("items", item(status(2, "Stuck"))).typed[10:] == (False, None)
    assert PLUGIN.to_raw("items", item(status(None, None))).typed[10] is False
    assert PLUGIN.to_raw("items", item()).typed[7:] == (None, None, None, None, None)


def test_the_main_status_is_the_chosen_column_not_just_any_status():
    record = item(status(1, "Done", column="qa_status"), status(0, "Working on it", column="delivery"),
                  status={"column": "delivery", "done": [1], "labels": ["Done"]})
    assert PLUGIN.to_raw("items", record).typed[7:11] == ("delivery", "Working on it", 0, False)


def test_a_subitem_knows_its_parent_and_a_deleted_item_is_a_tombstone():
    sub = PLUGIN.to_raw("items", item(parent={"id": "5"}))
    assert sub.typed[3] == "5" and not sub.deleted
    gone = PLUGIN.to_raw("items", item(state="deleted"))
    assert gone.deleted and gone.updated_at == dt.datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_column_values_load_into_their_own_table_beside_the_item():
    (child,) = PLUGIN.table("items:100").children
    text = {"id": "text_1", "type": "text", "text": "hi", "value": '"hi"'}
    rows = child.rows(item(status(1, "Done"), text)["record"])
    assert [r[0] for r in rows] == ["status", "text_1"] and child.table == "monday_column_value"


def test_a_log_entry_decodes_its_17_digit_time_and_says_whether_it_completed_the_item():
    stamp = str(int(dt.datetime(2026, 5, 4, 9, 0, 1, tzinfo=UTC).timestamp()) * 10_000_000 + 1234560)
    assert parse_log_stamp(stamp) == dt.datetime(2026, 5, 4, 9, 0, 1, 123456, tzinfo=UTC)

    def log(event: str, data: dict) -> dict:
        return {"kind": "activity_log", "id": "u-1", "board_id": "100", "status": STATUS, "record": {
            "id": "u-1", "event": event, "entity": "pulse", "created_at": stamp, "user_id": "42",
            "data": json.dumps(data)}}

    simulator_shape = PLUGIN.to_raw("activity_logs", log("update_column_value", {
        "pulse_id": 7, "column_id": "status", "value": {"index": 1}}))
    assert simulator_shape.updated_at == simulator_shape.created_at == parse_log_stamp(stamp)
    assert simulator_shape.typed[:3] == ("100", "7", "update_column_value") and simulator_shape.typed[-1] is True
    monday_shape = PLUGIN.to_raw("activity_logs", log("update_column_value", {
        "pulse_id": 7, "column_id": "status", "value": {"label": {"index": 2, "text": "Stuck", "is_done": False}}}))
    assert monday_shape.typed[-1] is False
    other = PLUGIN.to_raw("activity_logs", log("move_pulse_into_group", {"pulse_id": 7}))
    assert other.typed[-1] is None


def test_a_board_loads_into_boards_groups_and_columns_keyed_by_board():
    board = {"kind": "board", "id": "100", "observed_at": "2026-05-04T09:00:00Z", "record": {
        "id": "100", "name": "Roadmap", "state": "archived", "board_kind": "public", "type": "board",
        "updated_at": "2026-04-01T00:00:00Z", "created_at": "2025-01-01T00:00:00Z", "owners": [{"id": "1"}],
        "groups": [{"id": "topics", "title": "Next"}],
        "columns": [{"id": "status", "type": "status", "settings": {"done_colors": [1]}},
                    {"id": "subitems", "type": "subtasks", "settings": {"boardIds": [200]}}]}}
    parts = list(PLUGIN.split("boards", board))
    assert [(t, PLUGIN.to_raw(t, p).id) for t, p in parts] == [
        ("boards", "100"), ("groups", "100:topics"), ("columns", "100:status"), ("columns", "100:subitems")]
    board_row = PLUGIN.to_raw("boards", board)
    assert board_row.typed[1] == "archived" and board_row.typed[11] == "200" and not board_row.deleted
    assert board_row.typed[13] == dt.datetime(2026, 4, 1, tzinfo=UTC)  # monday's own updated_at, kept beside
    column = PLUGIN.to_raw("columns", parts[2][1])
    assert column.typed[7] == 0 and column.typed[8].obj == {"done_colors": [1]}


def test_a_user_loads_the_2026_10_fields_as_typed_columns_and_its_record_whole():
    record = {"id": "7", "name": "Ana", "email": "ana@example.com", "title": "PM", "status": "INACTIVE",
              "kind": "member", "is_deleted": True, "became_active_at": "2025-02-03T10:00:00Z",
              "invitation_method": "SSO", "time_zone_identifier": "Europe/Paris", "country_code": "FR",
              "created_at": "2025-02-01T09:00:00Z", "teams": [{"id": "3"}]}
    row = PLUGIN.to_raw("users", {"kind": "user", "id": "7", "observed_at": "2026-12-01T00:00:00Z",
                                  "record": record})
    columns = [c.name for c in PLUGIN.table("users").columns]
    assert dict(zip(columns, row.typed, strict=True)) == {
        "name": "Ana", "email": "ana@example.com", "title": "PM", "status": "INACTIVE", "kind": "member",
        "is_deleted": True, "became_active_at": dt.datetime(2025, 2, 3, 10, tzinfo=UTC), "invitation_method": "SSO",
        "time_zone": "Europe/Paris", "country_code": "FR", "team_ids": ["3"]}
    # A deleted user is still listed by monday: its row says so instead of becoming a tombstone.
    assert row.payload is record and not row.deleted


@pytest.mark.parametrize("broken", [
    {"kind": "item", "id": "7", "record": {"id": "7", "updated_at": "soon"}},
    {"kind": "item", "id": "7", "record": {"id": "7"}},
    {"kind": "activity_log", "id": "x", "record": {"id": "x", "created_at": "2026-05-04"}},
    {"kind": "spreadsheet", "record": {}},
    {"kind": "user", "id": "1", "record": {"id": "1"}},  # no observation time
    {"kind": "user", "id": "1", "observed_at": "2026-12-01T00:00:00Z", "record": {"id": "1", "is_deleted": "maybe"}},
])
def test_what_cannot_be_read_raises_so_the_loader_quarantines_it(broken):
    with pytest.raises((ValueError, TypeError, KeyError)):
        for target, part in PLUGIN.split("items:1", broken):
            PLUGIN.to_raw(target, part)


@pytest.mark.parametrize("value, holds", [
    ('{"text":"a\\u0000b"}', "text holds U+0000"),
    ('{"text":"cut \\ud83d here"}', "text holds U+D83D (half of a UTF-16 surrogate pair, alone)"),
])
def test_a_column_value_whose_json_holds_what_postgresql_cannot_store_is_refused_naming_it(value, holds):
    # The item's own text holds only the escape: the record's check cannot see it, its parsed value can.
    (child,) = PLUGIN.table("items:100").children
    long_text = {"id": "long_1", "type": "long_text", "text": "x", "value": value}
    said = f"monday_column_value: column value: {holds}, which PostgreSQL cannot store in text or jsonb"
    with pytest.raises(ValueError, match="^" + re.escape(said) + "$"):
        child.text_rows(item(status(1, "Done"), long_text)["record"])
