"""The layer picture: function_app -> orchestrators / activities / api -> plugins -> shared, nothing pointing up,
and shared knowing no Azure Functions API (it is library code any host could run)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ABOVE = {"function_app", "orchestrators", "activities", "api", "devhost", "sandbox", "tests", "bench", "grafana"}
# What each floor must not import (its own package and those below it are fine).
FORBIDDEN = {
    "shared": ABOVE | {"plugins", "azure.functions", "azure.durable_functions"},
    "plugins": ABOVE,
    "orchestrators": {"function_app", "activities", "api", "devhost", "plugins", "sandbox", "tests"},
    "activities": {"function_app", "orchestrators", "api", "devhost", "sandbox", "tests"},
    "api": {"function_app", "orchestrators", "activities", "devhost", "sandbox", "tests"},
}
# A plugin's HTTP routes (plugins/<name>/routes.py) are an entry point the API app includes: they speak the API's
# contracts (who is calling, the error shape) and nothing else of it.
ROUTE_CONTRACTS = ("api.auth", "api.problems")


def _allowed(path: Path, name: str, floor: str) -> bool:
    return floor == "plugins" and path.name == "routes.py" and any(
        name == c or name.startswith(c + ".") for c in ROUTE_CONTRACTS)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _violations(floor: str, root: Path = ROOT) -> dict[str, list[str]]:
    found = {}
    for path in sorted((root / floor).rglob("*.py")):
        bad = sorted(name for name in _imports(path)
                     if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[floor])
                     and not _allowed(path, name, floor))
        if bad:
            found[path.relative_to(root).as_posix()] = bad
    return found


@pytest.mark.parametrize("floor", sorted(FORBIDDEN))
def test_nothing_points_up(floor):
    assert _violations(floor) == {}


def test_the_check_sees_an_upward_import(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "bad.py").write_text("import azure.functions as func\nfrom plugins import registry\n")
    assert _violations("shared", tmp_path) == {"shared/bad.py": ["azure.functions", "plugins"]}


def test_only_a_plugins_routes_may_use_the_apis_contracts_and_only_those(tmp_path):
    (tmp_path / "plugins" / "x").mkdir(parents=True)
    (tmp_path / "plugins" / "x" / "routes.py").write_text("from api.auth import requires\nfrom api.problems import "
                                                          "Problem\nfrom api.syncs import start\n")
    (tmp_path / "plugins" / "x" / "plugin.py").write_text("from api.problems import Problem\n")
    assert _violations("plugins", tmp_path) == {"plugins/x/plugin.py": ["api.problems"],
                                                "plugins/x/routes.py": ["api.syncs"]}
