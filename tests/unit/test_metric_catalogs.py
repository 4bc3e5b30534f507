"""The installed plugins' metric catalogs come from the plugins themselves, through the registry, in its order;
shared/metrics only works on the catalogs it is given."""

from __future__ import annotations

from dataclasses import replace

import pytest

from plugins import registry
from plugins.monday.metrics import CATALOG as MONDAY
from plugins.quickbooks.metrics import CATALOG as QUICKBOOKS
from shared.metrics.registry import catalogs_of, get_metric, list_metrics


def test_the_registry_assembles_each_installed_plugins_own_catalog_in_registry_order():
    catalogs = registry.metric_catalogs()
    assert list(catalogs)[:2] == ["quickbooks", "monday"]
    assert catalogs["quickbooks"] is registry.get("quickbooks").metrics is QUICKBOOKS
    assert catalogs["monday"] is registry.get("monday").metrics is MONDAY


def test_the_shared_views_see_only_the_catalogs_they_are_given():
    only_monday = catalogs_of([MONDAY])
    assert {m["plugin"] for m in list_metrics(only_monday)} == {"monday"}
    assert get_metric(only_monday, "monday.open_items").plugin == "monday"
    with pytest.raises(KeyError, match=r"unknown metric 'qbo\.net_revenue'"):
        get_metric(only_monday, "qbo.net_revenue")


def test_a_metric_name_two_plugins_declare_is_refused():
    borrowed = replace(MONDAY, plugin="other", metrics=MONDAY.metrics[:1])
    with pytest.raises(ValueError, match=r"monday\.items_created is declared by monday and other"):
        catalogs_of([MONDAY, borrowed])


def test_a_plugin_declaring_another_plugins_catalog_is_refused(monkeypatch):
    monkeypatch.setenv(registry.EXTRA_SETTING, "tests.unit.stray_catalog_plugin")
    with pytest.raises(ValueError, match="Plugin 'stray' declares the metric catalog of 'quickbooks'"):
        registry.metric_catalogs()
