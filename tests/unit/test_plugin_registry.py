"""The plugin registry: the one list of installed plugins and the one way a connection's plugin is found."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime

import pytest

from plugins import registry
from plugins.base import BasePlugin
from shared.db.connections import Connection
from shared.tokens.store import TokenInfo
from tests.unit import routed_source

EXTRA = "tests.unit.routed_source"


@pytest.fixture(autouse=True)
def no_extra_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(registry.EXTRA_SETTING, raising=False)


def test_the_installed_plugins_are_quickbooks_then_monday_each_found_by_name():
    assert registry.names() == ("quickbooks", "monday")
    assert [registry.get(name).name for name in registry.names()] == ["quickbooks", "monday"]


def test_an_unknown_plugin_is_refused_with_the_installed_ones_listed():
    with pytest.raises(registry.UnknownPlugin, match=r"No plugin named 'xero'; installed: quickbooks, monday$"):
        registry.get("xero")


def test_extra_plugins_setting_installs_a_source_from_outside_plugins(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(registry.EXTRA_SETTING, f" {EXTRA} ,")  # spaces and a trailing comma are forgiven
    assert registry.names() == ("quickbooks", "monday", "routed-example")
    assert registry.get("routed-example") is routed_source.PLUGIN


def test_two_plugins_with_one_name_are_refused_naming_both_modules(monkeypatch: pytest.MonkeyPatch):
    impostor = types.ModuleType("impostor_source")

    class Impostor(BasePlugin):
        name = "quickbooks"

    impostor.PLUGIN = Impostor()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "impostor_source", impostor)
    monkeypatch.setenv(registry.EXTRA_SETTING, "impostor_source")
    with pytest.raises(ValueError, match=r"plugins\.quickbooks and impostor_source are both named 'quickbooks'"):
        registry.installed()


def test_a_plugin_without_oauth_routes_or_demo_inherits_none_of_them():
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)  # tokens that a QuickBooks connection would be warned about
    info = TokenInfo("c", "k", long_ago, long_ago, long_ago, None, 0, long_ago)
    bare = type("Bare", (BasePlugin,), {"name": "bare"})()
    assert bare.router is None and bare.demo() is None and bare.connection_warnings(info) == []
    assert bare.reconnect_path(Connection("c", "bare", "c", {})) is None
    assert registry.get("quickbooks").connection_warnings(info)
