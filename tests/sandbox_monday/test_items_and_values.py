"""Items, subitems, typed column values and the account's other objects, read as a sync reads them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sandbox.monday import MondayState

from .conftest import Api, main_boards

ITEM_FIELDS = """
id name state created_at updated_at creator_id group { id } board { id } parent_item { id }
column_values {
  id type text value
  ... on StatusValue { label index is_done }
  ... on DateValue { date time }
  ... on NumbersValue { number symbol }
  ... on PeopleValue { persons_and_teams { id kind } }
  ... on TimelineValue { from to }
  ... on CheckboxValue { checked }
  ... on MirrorValue { display_value }
  ... on BoardRelationValue { display_value linked_item_ids }
  ... on DependencyValue { display_value linked_item_ids }
  ... on SubtasksValue { subitems_ids }
  ... on LongTextValue { text }
}
"""


async def _items(api: Api, board: str) -> list[dict[str, Any]]:
    query = f"query {{ boards(ids: [{board}]) {{ items_page(limit: 500) {{ items {{ {ITEM_FIELDS} " \
            f"subitems {{ {ITEM_FIELDS} }} }} }} }} }}"
    return (await api.data(query))["boards"][0]["items_page"]["items"]  # type: ignore[no-any-return]


async def test_typed_fragments_carry_each_column_type_s_data(api: Api, state: MondayState) -> None:
    items = await _items(api, main_boards(state)[0])
    seen: set[str] = set()
    for item in items:
        for value in item["column_values"]:
            seen.add(value["type"])
            stored = json.loads(value["value"]) if value["value"] else None
            if value["type"] == "status" and stored:
                assert value["index"] == stored["index"] and value["label"] == value["text"]
                assert value["is_done"] == (value["label"] == "Done")
            elif value["type"] == "date" and stored:
                assert value["date"] == stored["date"] and value["text"].startswith(value["date"])
            elif value["type"] == "numbers" and stored:
                assert value["number"] == float(stored) and value["symbol"] == "$"
            elif value["type"] == "people" and stored:
                stored_ids = [str(p["id"]) for p in stored["personsAndTeams"]]
                assert [p["id"] for p in value["persons_and_teams"]] == stored_ids
            elif value["type"] == "timeline" and stored:
                assert value["text"] == f"{value['from']} - {value['to']}"
            elif value["type"] == "checkbox":
                assert value["checked"] == (value["text"] == "v")
            elif value["type"] in ("board_relation", "dependency"):
                assert value["text"] == ""  # monday keeps these in display_value and the typed fields
                assert value["linked_item_ids"] == [str(p["linkedPulseId"]) for p in (stored or {}).get(
                    "linkedPulseIds", [])]
            elif value["type"] == "mirror":
                assert value["text"] == "" and value["value"] is None
            elif value["type"] == "subtasks":
                assert value["subitems_ids"] == [s["id"] for s in item["subitems"]]
    assert {"status", "date", "numbers", "people", "timeline", "checkbox", "text", "long_text", "mirror",
            "board_relation", "dependency", "subtasks"} <= seen


async def test_mirror_and_relation_display_values_come_from_the_linked_items(api: Api, state: MondayState) -> None:
    items = await _items(api, main_boards(state)[0])
    account = state.account()
    with_links = next(i for i in items for v in i["column_values"]
                      if v["type"] == "board_relation" and v["linked_item_ids"])
    relation = next(v for v in with_links["column_values"] if v["type"] == "board_relation")
    mirror = next(v for v in with_links["column_values"] if v["type"] == "mirror")
    linked = [account.items[i] for i in relation["linked_item_ids"]]
    assert relation["display_value"] == ", ".join(i.name for i in linked)
    labels = {"0": "Working on it", "1": "Done", "2": "Stuck", "3": "Waiting"}
    expected = [labels[str(i.values["status"]["index"])] for i in linked if i.values.get("status")]
    assert mirror["display_value"] == ", ".join(expected)


async def test_subitems_live_on_their_own_board_and_point_back_to_the_parent(api: Api, state: MondayState) -> None:
    board = state.account().board(main_boards(state)[0])
    items = await _items(api, board.id)
    parent = next(i for i in items if i["subitems"])
    for sub in parent["subitems"]:
        assert sub["parent_item"] == {"id": parent["id"]} and sub["board"] == {"id": board.subitems_board_id}
        assert "subtasks" not in {v["type"] for v in sub["column_values"]}
    listed = await api.data(f"query {{ boards(ids: [{board.subitems_board_id}]) {{ id name type }} }}")
    assert listed["boards"] == [{"id": board.subitems_board_id, "name": f"Subitems of {board.name}",
                                 "type": "sub_items_board"}]


async def test_boards_are_active_only_unless_state_all_is_asked_for(api: Api, state: MondayState) -> None:
    default = {b["id"]: b["state"] for b in (await api.data("query { boards(limit: 100) { id state } }"))["boards"]}
    everything = {b["id"]: b["state"] for b in
                  (await api.data("query { boards(limit: 100, state: all) { id state } }"))["boards"]}
    assert set(default.values()) == {"active"}
    assert {"active", "archived", "deleted"} <= set(everything.values()) and set(default) < set(everything)
    only_deleted = (await api.data("query { boards(state: deleted) { id } }"))["boards"]
    assert {b["id"] for b in only_deleted} == {i for i, s in everything.items() if s == "deleted"}


async def test_board_metadata_is_complete(api: Api, state: MondayState) -> None:
    board = state.account().board(main_boards(state)[0])
    data = await api.data(f"query {{ boards(ids: [{board.id}]) {{ id name state board_kind workspace_id updated_at "
                          "workspace { id name } groups { id title position archived deleted } "
                          "columns { id title type settings_str archived } owners { id name } items_count } }")
    got = data["boards"][0]
    assert got["workspace"]["id"] == got["workspace_id"] == board.workspace_id
    assert [g["id"] for g in got["groups"]] == [g.id for g in board.groups]
    status = next(c for c in got["columns"] if c["type"] == "status")
    assert json.loads(status["settings_str"])["labels"]["1"] == "Done"
    assert got["owners"] and got["updated_at"].endswith("Z")
    assert got["items_count"] == sum(1 for i in board.item_ids if state.account().items[i].state == "active")


async def test_items_by_id_takes_at_most_100_ids(api: Api, state: MondayState) -> None:
    ids = list(state.account().items)[:101]
    reply = await api.post("query ($ids: [ID!]) { items(ids: $ids, limit: 200) { id } }", {"ids": ids})
    assert reply.error_codes() == ["InvalidArgumentException"] and reply.body["data"]["items"] is None
    fine = await api.data("query ($ids: [ID!]) { items(ids: $ids, limit: 100) { id } }", {"ids": ids[:100]})
    assert [i["id"] for i in fine["items"]] == ids[:100]


async def test_people_teams_tags_workspaces_me_and_account(api: Api, state: MondayState) -> None:
    data = await api.data("query { me { id kind account { id } } account { id name slug tier plan { tier } } "
                          "users { id name email teams { id } } teams { id name users { id } } tags { id name color } "
                          "workspaces { id name kind } }")
    account = state.account()
    assert data["me"] == {"id": account.owner_user_id, "kind": "admin", "account": {"id": account.id}}
    assert data["account"]["id"] == account.id
    # users() without a status answers active and pending users only (2026-07+)
    assert len(data["users"]) == sum(u.status != "INACTIVE" for u in account.users.values())
    assert len(data["teams"]) == len(account.teams)
    assert {t["name"] for t in data["tags"]} == {t.name for t in account.tags.values()}
    assert [w["id"] for w in data["workspaces"]] == list(account.workspaces)


async def test_updates_are_readable_per_item_and_account_wide(api: Api, state: MondayState) -> None:
    item = next(i for i in state.account().items.values() if i.update_ids and i.state == "active")
    added = state.add_update(item.id, "Checked by the test")
    data = await api.data(f"query {{ items(ids: [{item.id}]) {{ updates {{ id text_body creator {{ id }} }} }} "
                          "updates(limit: 1) { id item_id } }")
    assert data["items"][0]["updates"][0] == {"id": added.id, "text_body": "Checked by the test",
                                              "creator": {"id": state.account().owner_user_id}}
    assert data["updates"] == [{"id": added.id, "item_id": item.id}]
    since = added.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = await api.data("query ($from: String) { updates(from_date: $from, limit: 100) { id } }", {"from": since})
    assert recent["updates"] == [{"id": added.id}]


async def test_updates_from_and_to_date_are_inclusive_of_the_day_minute_or_second_they_name(
        api: Api, state: MondayState) -> None:
    account = state.account()
    newest = max(account.updates.values(), key=lambda u: (u.created_at, int(u.id)))
    moment = newest.created_at
    query = "query ($from: String, $to: String) { updates(from_date: $from, to_date: $to, limit: 500) { id } }"

    async def ids(**bounds: str) -> set[str]:
        return {u["id"] for u in (await api.data(query, bounds))["updates"]}

    every = {u.id for u in account.updates.values()}
    for to in (moment.strftime("%Y-%m-%d"), moment.strftime("%Y-%m-%dT%H:%M"), moment.strftime("%Y-%m-%dT%H:%M:%SZ")):
        assert newest.id in await ids(to=to), to
    before = moment.replace(microsecond=0) - dt.timedelta(seconds=1)
    assert await ids(to=before.strftime("%Y-%m-%dT%H:%M:%SZ")) == {
        u.id for u in account.updates.values() if u.created_at < moment.replace(microsecond=0)}
    day = moment.strftime("%Y-%m-%d")
    assert await ids(**{"from": day, "to": day}) == {u.id for u in account.updates.values()
                                                       if u.created_at.date() == moment.date()}
    assert await ids(**{"from": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}) | await ids(to=before.isoformat()) == every


async def test_any_valid_selection_runs_even_where_the_simulator_has_no_data(api: Api) -> None:
    reply = await api.post("query { boards(limit: 1) { access_level views { id } top_group { id } creator { id } "
                           "columns { revision capabilities { calculated { function } } } items_page(limit: 1) "
                           "{ items { assets { id } email url subscribers { id } description { id } } } } }")
    assert reply.status == 200 and "errors" not in reply.body, reply.text
