"""Which settings the code reads, found in its syntax tree rather than in a list kept by hand; and which ones
.env.example documents. Used by tests/unit/test_env_example.py, tests/infra/test_templates.py (every setting is set
by the templates or listed optional) and tests/infra/test_compose.py.

Reads found: os.environ.get / os.environ[...] / os.getenv / `in os.environ` / int_setting(...) with a literal or a
module constant (OWNER_DSN_SETTING), the app's fixed secrets (`*_SECRET = "kebab-name"`, read locally from
SECRET_<NAME>) and the Functions binding expressions ("%SYNC_SCHEDULE%" in code, host.json). A read whose name
cannot be resolved is reported, unless it is one of the few known dynamic reads below."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from shared.core.secrets import env_name

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("shared", "plugins", "api", "activities", "orchestrators", "devhost", "function_app.py")
# Reads whose name is computed: (file, the name expression) -> why that is fine.
DYNAMIC_READS = {
    ("shared/core/config.py", "name"): "int_setting's own parameter: its callers are scanned",
    ("shared/core/secrets.py", "env_name(name)"): "a secret by name: the app's secrets are the *_SECRET constants",
    ("devhost/queues.py", "match.group(1)"): "a binding expression's %SETTING%: the scan reads those in the code",
    ("devhost/queues.py", "setting"): "a trigger's connection setting, named in its binding (AzureWebJobsStorage)",
}
# Read by the code but not an app setting.
NOT_SETTINGS = {"USER": "the OS user's name, for an audit actor (devhost)"}
# Listed in .env.example without the code reading them: the Functions host reads these.
HOST_SETTINGS = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsFeatureFlags"}
# Connection secrets (conn-<id>-<word>) are named by connections' settings, not by the code: examples may be listed.
CONNECTION_SECRET = re.compile(r"SECRET_CONN_[A-Z0-9_]+")
BINDING = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)%")
SECRET_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)+")


def _modules() -> dict[str, ast.Module]:
    paths = [ROOT / p for p in SCANNED if p.endswith(".py")]
    paths += [f for p in SCANNED if not p.endswith(".py") for f in sorted((ROOT / p).rglob("*.py"))]
    return {path.relative_to(ROOT).as_posix(): ast.parse(path.read_text(encoding="utf-8")) for path in paths}


def _constants(modules: dict[str, ast.Module]) -> dict[str, set[str]]:
    """Module-level NAME = "text" across the scanned code: what a setting's constant may resolve to."""
    found: dict[str, set[str]] = {}
    for tree in modules.values():
        for node in tree.body:
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str)):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, set()).add(node.value.value)
    return found


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "environ") or (
        isinstance(node, ast.Attribute) and node.attr == "environ")


def _name_argument(node: ast.AST) -> ast.AST | None:
    """The expression naming the setting if `node` reads one, else None."""
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value):
            return node.args[0]
        if (isinstance(func, ast.Attribute) and func.attr in ("getenv", "int_setting")) or (
                isinstance(func, ast.Name) and func.id in ("getenv", "int_setting")):
            return node.args[0]
    if isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.ctx, ast.Load):
        return node.slice
    if isinstance(node, ast.Compare) and any(isinstance(op, ast.In) for op in node.ops) and any(
            _is_environ(c) for c in node.comparators):
        return node.left
    return None


def settings_read_by_code() -> tuple[set[str], list[str]]:
    """(setting names the code reads, reads whose name could not be resolved)."""
    modules = _modules()
    constants = _constants(modules)
    names: set[str] = set()
    unresolved = []
    for path, tree in modules.items():
        source = (ROOT / path).read_text(encoding="utf-8")
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and BINDING.fullmatch(node.value):
                names.add(node.value.strip("%"))
            argument = _name_argument(node)
            if argument is None:
                continue
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                names.add(argument.value)
                continue
            key = argument.id if isinstance(argument, ast.Name) else getattr(argument, "attr", None)
            values = constants.get(key or "", set())
            if len(values) == 1:
                names |= values
            elif (path, ast.get_source_segment(source, argument)) not in DYNAMIC_READS:
                unresolved.append(f"{path}:{node.lineno}: {ast.get_source_segment(source, argument)}")
        # The app's own secrets, read from Key Vault in Azure and from SECRET_<NAME> locally.
        for node in tree.body:
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str) and SECRET_NAME.fullmatch(node.value.value)
                    and any(isinstance(t, ast.Name) and t.id.endswith("_SECRET") for t in node.targets)):
                names.add(env_name(node.value.value))
    host = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    names |= set(BINDING.findall(json.dumps(host)))
    return names - set(NOT_SETTINGS), unresolved


def documented() -> dict[str, list[str]]:
    """Setting name -> the comment lines right above it in .env.example."""
    found: dict[str, list[str]] = {}
    comments: list[str] = []
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            comments.append(line)
        elif match := re.match(r"([A-Za-z_][A-Za-z0-9_]*)=", line):
            found[match.group(1)] = comments
            comments = []
        else:
            comments = []
    return found
