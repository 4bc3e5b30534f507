"""The installed source plugins: the one list of them, and the one way a plugin is found.

Everything above `plugins/` (activities, the API, the metric refresh, the dashboards, the demo) reaches a
source only through here, by a connection's plugin name or by walking `installed()`.
"""

from __future__ import annotations

import importlib
import os
from functools import cache
from pathlib import Path

from plugins.base import SourcePlugin
from shared.metrics.catalog import PluginMetrics
from shared.metrics.registry import catalogs_of

# Each module exposes PLUGIN (an object implementing plugins.base.SourcePlugin).
INSTALLED = ("plugins.quickbooks", "plugins.monday")
# Sources that live outside this package (an operator's own, the test suite's example source): module paths,
# comma-separated, whose PLUGIN joins the installed ones.
EXTRA_SETTING = "BIZ_EXTRA_PLUGINS"


class UnknownPlugin(ValueError):
    """A plugin name no installed plugin answers to."""


def installed() -> tuple[SourcePlugin, ...]:
    """Every installed plugin, in a fixed order (the order their migrations run in)."""
    extra = tuple(m.strip() for m in os.environ.get(EXTRA_SETTING, "").split(",") if m.strip())
    return _load(INSTALLED + extra)


def names() -> tuple[str, ...]:
    return tuple(p.name for p in installed())


def get(name: str) -> SourcePlugin:
    """The plugin a connection names; UnknownPlugin says which ones there are."""
    for plugin in installed():
        if plugin.name == name:
            return plugin
    raise UnknownPlugin(f"No plugin named {name!r}; installed: {', '.join(names())}")


def metric_catalogs() -> dict[str, PluginMetrics]:
    """The installed plugins' metric catalogs by plugin name, validated, in registry order."""
    return _catalogs(installed())


def migration_folders() -> list[tuple[str, Path]]:
    """(plugin name, migrations folder) of every installed plugin that has tables, in registry order: what
    shared.db.migrate.migrate applies after core's."""
    return [(p.name, p.migrations) for p in installed() if p.migrations is not None]


@cache
def _catalogs(plugins: tuple[SourcePlugin, ...]) -> dict[str, PluginMetrics]:
    for plugin in plugins:
        if plugin.metrics is not None and plugin.metrics.plugin != plugin.name:
            raise ValueError(f"Plugin {plugin.name!r} declares the metric catalog of {plugin.metrics.plugin!r}")
    return catalogs_of(p.metrics for p in plugins if p.metrics is not None)


@cache
def _load(modules: tuple[str, ...]) -> tuple[SourcePlugin, ...]:
    plugins = tuple(importlib.import_module(module).PLUGIN for module in modules)
    seen: dict[str, str] = {}
    for module, plugin in zip(modules, plugins, strict=True):
        if plugin.name in seen:
            raise ValueError(f"Plugins {seen[plugin.name]} and {module} are both named {plugin.name!r}")
        seen[plugin.name] = module
    return plugins
