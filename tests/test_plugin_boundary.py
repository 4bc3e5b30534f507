"""The plugin boundary: everything a source knows lives in plugins/<name>/, and the rest of the app reaches a
plugin only through plugins/registry.py.

Checked as text (code and comments alike) in every .py file, and in every .sql file (a source's tables are
its knowledge too), outside the folders allowed to name sources:
- plugins/: where sources live;
- sandbox/: the simulators of the sources' APIs (never deployed);
- tests/: tests of a source name it;
- bench/: benchmarks measure a particular plugin's loader, metrics and panels on its own tables, so they name
  the plugin they measure (never deployed, like sandbox/). They still find it through the registry.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from plugins import registry

ROOT = Path(__file__).resolve().parents[1]
MAY_NAME_SOURCES = ("plugins/", "sandbox/", "tests/", "bench/")
# Any case for QuickBooks; monday.com spells itself in lower case, and "Monday" is also the weekday weeks start on.
SOURCE_NAMES = re.compile(r"(?i:quickbooks|qbo)|monday")
MAY_IMPORT_PLUGINS_BY_NAME = ("plugins/", "sandbox/", "tests/")


def _files(*suffixes: str) -> list[str]:
    """Repository-relative paths, skipping hidden folders (.venv, .local, .git) and caches."""
    found = []
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        found += [(Path(folder) / n).relative_to(ROOT).as_posix() for n in names if n.endswith(suffixes)]
    return sorted(found)


def _mentions() -> dict[str, list[str]]:
    """Path -> the lines naming a source, for every checked file outside the folders that may."""
    mentions = {}
    for path in _files(".py", ".sql"):
        if path.startswith(MAY_NAME_SOURCES):
            continue
        lines = [f"{n}: {line.strip()}" for n, line in enumerate((ROOT / path).read_text().splitlines(), 1)
                 if SOURCE_NAMES.search(line)]
        if lines:
            mentions[path] = lines
    return mentions


def test_no_module_outside_the_plugins_names_a_source():
    assert _mentions() == {}, "reach the source through plugins.registry, or move this into its plugin folder"


def _imported_plugin_packages(text: str, plugins: set[str]) -> set[str]:
    """Plugin packages a module imports by name: `import plugins.x`, `from plugins.x import ..`,
    `from plugins import x`, or importlib with "plugins.x"."""
    named = set(re.findall(r"\bplugins\.(\w+)", text))
    for imported in re.findall(r"^\s*from\s+plugins\s+import\s+\(?([\w\s,]+)\)?", text, re.MULTILINE):
        named |= {name.split(" as ")[0].strip() for name in imported.split(",")}
    return named & plugins


def test_plugins_are_found_only_through_the_registry():
    plugins = {module.split(".")[1] for module in registry.INSTALLED}
    assert plugins == {"quickbooks", "monday"}
    offenders = {}
    for path in _files(".py"):
        if path.startswith(MAY_IMPORT_PLUGINS_BY_NAME):
            continue
        named = _imported_plugin_packages((ROOT / path).read_text(), plugins)
        if named:
            offenders[path] = sorted(named)
    assert offenders == {}, "use plugins.registry.get(name) or walk plugins.registry.installed()"


def test_the_import_check_sees_every_way_of_naming_a_plugin_package():
    plugins = {"quickbooks", "monday"}
    assert _imported_plugin_packages("import plugins.quickbooks.oauth", plugins) == {"quickbooks"}
    assert _imported_plugin_packages("from plugins.monday.settings import x", plugins) == {"monday"}
    assert _imported_plugin_packages("from plugins import registry, monday as m", plugins) == {"monday"}
    assert _imported_plugin_packages('importlib.import_module("plugins.quickbooks")', plugins) == {"quickbooks"}
    assert _imported_plugin_packages("from plugins import registry\nfrom plugins.base import Page", plugins) == set()
