"""Which plugins may backfill: only a plan that names `since`. A catch-all **kwargs does not count, since such a plan
has not said it understands the date and might read mode "backfill" as a complete read (and sweep)."""

from __future__ import annotations

from activities.planning import _declares
from plugins.monday import PLUGIN as MONDAY
from plugins.quickbooks import PLUGIN as QUICKBOOKS
from tests.third_source import PLUGIN as HELPDESK


def test_the_built_in_plugins_declare_since_and_the_example_source_does_not():
    assert _declares(QUICKBOOKS.plan, "since") and _declares(MONDAY.plan, "since")
    assert not _declares(HELPDESK.plan, "since")


def test_a_catch_all_is_not_a_declaration():
    def takes_anything(connection, mode, **focus):
        return None

    def keyword_only(connection, mode, *, since=None):
        return None

    assert not _declares(takes_anything, "since")
    assert _declares(keyword_only, "since")
