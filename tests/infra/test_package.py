"""The deployment package, built as Azure's remote build builds it: the files `func azure functionapp publish` sends
(everything .funcignore does not exclude) plus requirements.txt's packages installed into .python_packages (here
from requirements.lock, hash-checked). A fresh interpreter that sees only that folder and the standard library
imports function_app, indexes every function, and loads nothing of devhost/, sandbox/, tests/ or bench/."""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NEVER_DEPLOYED = ("devhost", "sandbox", "tests", "bench")

INDEX = """
import json, sys
sys.path[:0] = [{package!r}, {site!r}]
import function_app
names = sorted(f.get_function_name() for f in function_app.app.get_functions())
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & {never!r})
print(json.dumps({{"functions": names, "loaded": loaded,
                   "outside": sorted({{getattr(m, "__file__", "") or "" for m in list(sys.modules.values())
                                       if (getattr(m, "__file__", "") or "").startswith({root!r})}})}}))
"""


def _ignored(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p.rstrip("/")) for p in patterns)


def _stage(target: Path) -> None:
    patterns = [line.strip() for line in (ROOT / ".funcignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for entry in ROOT.iterdir():
        if _ignored(entry.name, patterns) or entry.name.startswith("."):
            continue
        if entry.is_dir():
            shutil.copytree(entry, target / entry.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(entry, target / entry.name)


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("package")
    _stage(target)
    site = target / ".python_packages" / "lib" / "site-packages"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--no-deps", "--require-hashes", "--target", str(site), "-r",
                           str(ROOT / "requirements.lock")], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def test_the_package_leaves_out_what_is_never_deployed(package):
    staged = {p.name for p in package.iterdir()}
    assert {"function_app.py", "host.json", "requirements.txt", "api", "activities", "orchestrators", "plugins",
            "shared"} <= staged
    assert not staged & set(NEVER_DEPLOYED)


def test_the_package_alone_imports_and_indexes_every_function(package):
    site = package / ".python_packages" / "lib" / "site-packages"
    code = INDEX.format(package=str(package), site=str(site), never=set(NEVER_DEPLOYED), root=str(ROOT))
    # -S: no site-packages of this machine; -I would also drop the cwd, which the worker keeps.
    done = subprocess.run([sys.executable, "-S", "-c", code], cwd=package, capture_output=True, text=True,
                          timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": str(package)})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"api_http", "scheduled_sync", "sync_all", "sync_connection", "sync_stream", "fetch_pages",
            "load_pages"} <= set(result["functions"])
    assert result["loaded"] == [] and result["outside"] == []
