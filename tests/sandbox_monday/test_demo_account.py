"""The demo account: sized by parameters, identical for the same seed, with fixed timestamps."""

from __future__ import annotations

from collections import Counter

from sandbox.monday import MondayAccount, MondayState, SimClock
from sandbox.monday.demo_account import DEMO_EPOCH

from .conftest import START, TOKEN


def _small(seed: int) -> MondayAccount:
    return MondayAccount.generate(seed=seed, workspaces=2, boards=6, items_per_board=30, subitems_per_item=2)


def test_the_same_seed_gives_the_same_account_and_another_seed_another() -> None:
    assert _small(3) == _small(3)
    assert _small(3) != _small(4)
    assert set(_small(3).items).isdisjoint(_small(4).items)  # ids differ per seed too


def test_sizes_follow_the_parameters() -> None:
    counts = _small(3).counts()
    assert counts["workspaces"] == 2 and counts["boards"] == 6 and counts["subitem boards"] == 6
    assert counts["items"] == 6 * 30 and counts["subitems"] == 6 * 30 * 2
    assert counts["users"] == 12 and counts["teams"] == 3 and counts["tags"] == 6


def test_timestamps_are_fixed_and_older_than_the_clock_start() -> None:
    account = _small(3)
    stamps = [i.created_at for i in account.items.values()] + [i.updated_at for i in account.items.values()]
    stamps += [e.created_at for entries in account.activity.values() for e in entries]
    assert max(stamps) < DEMO_EPOCH < SimClock(start=START).now()


def test_boards_cover_every_state_and_every_column_type_a_sync_maps() -> None:
    account = _small(3)
    main = [b for b in account.boards.values() if b.object_type == "board"]
    assert Counter(b.state for b in main) == Counter({"active": 4, "archived": 1, "deleted": 1})
    types = {c.type for c in main[0].columns}
    assert {"name", "status", "date", "numbers", "people", "timeline", "checkbox", "text", "long_text", "mirror",
            "board_relation", "dependency", "subtasks"} <= types
    status = next(c for c in main[0].columns if c.type == "status")
    assert "Done" in status.settings["labels"].values()
    states = Counter(i.state for i in account.items.values())
    assert states["archived"] > 0 and states["deleted"] > 0 and states["active"] > 0.9 * sum(states.values())


def test_the_demo_history_is_in_the_activity_logs() -> None:
    account = _small(3)
    events = Counter(e.event for entries in account.activity.values() for e in entries)
    assert events["create_pulse"] == len(account.items)
    assert events["update_column_value"] > 0 and events["archive_pulse"] > 0 and events["delete_pulse"] > 0
    assert events["archive_board"] == 1 and events["delete_board"] == 1


def test_states_copy_the_account_so_one_generation_serves_many(account: MondayAccount) -> None:
    first = MondayState([account], SimClock(start=START, frozen=True), {TOKEN: account.id})
    second = MondayState([account], SimClock(start=START, frozen=True), {TOKEN: account.id})
    item = next(i for i in first.account().items.values() if i.state == "active")
    first.rename_item(item.id, "Changed in one state only")
    assert second.account().items[item.id].name != "Changed in one state only"
    assert account.items[item.id].name != "Changed in one state only"
