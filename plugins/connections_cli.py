"""Connections as code: apply a connections.yaml (see connections.example.yaml) to the database, idempotently.

    python -m plugins.connections_cli apply connections.yaml            # create / update / leave alone
    python -m plugins.connections_cli apply connections.yaml --check    # validate and show the plan only
    python -m plugins.connections_cli apply connections.yaml --prune    # also disable connections not in the file

The whole file is validated first (ids, plugins, each plugin's settings, secret references); with any error
nothing is applied and every error is listed (exit 1). Changes are applied in one transaction, each with an
audit entry by "cli:<os user>". A connection is never deleted: --prune only disables it.

It lives at the plugins floor because only this floor knows which plugins are installed (like migrate_cli).
"""

from __future__ import annotations

import argparse
import getpass
import math
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import psycopg

from plugins import registry
from plugins.base import SECRET_SETTING
from shared.core.egress import check_secret_name
from shared.db import audit
from shared.db.connect import connect
from shared.db.connections import (
    Connection,
    ConnectionRecord,
    connection_records,
    create_connection,
    update_connection,
    validate_connection_id,
)
from shared.tokens.connection_secrets import stored_names

ENTRY_KEYS = frozenset({"id", "plugin", "display_name", "enabled", "settings"})
MAX_DISPLAY_NAME = 200  # as the API allows (api/models/connections.py)


@dataclass(frozen=True)
class Declared:
    """One connection as the file declares it."""

    connection: Connection
    enabled: bool


@dataclass(frozen=True)
class Change:
    """What applying does to one connection: created, updated, unchanged or disabled (fields: what differs)."""

    action: str
    connection_id: str
    fields: tuple[str, ...] = ()
    declared: Declared | None = None


@dataclass
class Validation:
    declared: list[Declared] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# -- reading the file ---------------------------------------------------------------------------------------------
def read_file(path: Path) -> tuple[list[Any], list[str]]:
    """The file's raw connection entries, or why it cannot be read (no YAML library, unreadable, malformed)."""
    try:
        import yaml  # PyYAML: an operator's tool, not needed by the deployed app (requirements-dev.txt)
    except ImportError:
        return [], ["PyYAML is not installed: pip install -r requirements-dev.txt (or pip install PyYAML)"]
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return [], [f"{path}: cannot read it ({exc.strerror or exc})"]
    except yaml.YAMLError as exc:
        return [], [f"{path}: not valid YAML ({exc})"]
    if not isinstance(document, dict) or set(document) != {"connections"}:
        return [], [f"{path}: the file must be a mapping with one key, connections (a list of connections)"]
    entries = document["connections"] or []
    if not isinstance(entries, list):
        return [], [f"{path}: connections must be a list"]
    return entries, []


def _json_problem(value: Any, where: str) -> str | None:
    """Why `value` cannot be stored as a JSON setting (YAML also has dates, NaN, non-string keys), or None."""
    if value is None or isinstance(value, (bool, int, str)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where} must be a finite number"
    if isinstance(value, list):
        return next((p for i, v in enumerate(value) if (p := _json_problem(v, f"{where}[{i}]"))), None)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{where} has a key {key!r} that is not a string (quote it)"
            if problem := _json_problem(item, f"{where}.{key}"):
                return problem
        return None
    return f"{where} is a {type(value).__name__}, not a JSON value (quote it to make it a string)"


def _secret_reference_errors(connection_id: str, settings: Mapping[str, Any], plugin_credentials: Sequence[str],
                             where: str) -> list[str]:
    """A file holds secret names, never values: a setting naming a credential ends in _secret and names a secret of
    the connection's own namespace; `<credential>_stored` flags belong to the API (set when a credential is
    stored encrypted) and are kept as they are."""
    errors = []
    for key, value in settings.items():
        if key in {f"{name}_stored" for name in plugin_credentials}:
            errors.append(f"{where}: settings.{key} is set by the app when a credential is stored through the API; "
                          "leave it out of the file")
        elif key.endswith("_secret"):
            try:
                check_secret_name(value, connection_id, setting=f"settings.{key}")
            except ValueError as exc:
                errors.append(f"{where}: {exc}")
        elif SECRET_SETTING.search(key) and not key.endswith("_url"):  # a *_url is an address (token_url)
            errors.append(f"{where}: settings.{key} looks like a credential: put the value in the secret store as "
                          f"conn-{connection_id}-<word> and name it here with a setting ending in _secret")
    return errors


def _entry(raw: Any, index: int, seen: set[str], stored: Mapping[str, frozenset[str]],
           existing: Mapping[str, ConnectionRecord]) -> tuple[Declared | None, list[str]]:
    where = f"connections[{index}]"
    if not isinstance(raw, dict):
        return None, [f"{where}: must be a mapping with id, plugin, display_name, enabled, settings"]
    if isinstance(raw.get("id"), str):
        where = f"connections[{index}] ({raw['id']})"
    errors = [f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(ENTRY_KEYS))})"
              for key in raw if key not in ENTRY_KEYS]
    errors += [f"{where}: {key} is required" for key in ("id", "plugin", "display_name") if key not in raw]
    connection_id, plugin_name = raw.get("id"), raw.get("plugin")
    display_name, enabled, settings = raw.get("display_name"), raw.get("enabled", True), raw.get("settings") or {}
    if "id" in raw:
        try:
            validate_connection_id(connection_id)
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
        else:
            if connection_id in seen:
                errors.append(f"{where}: id {connection_id!r} is declared more than once")
            seen.add(connection_id)
    plugin = None
    if "plugin" in raw:
        try:
            plugin = registry.get(str(plugin_name))
        except registry.UnknownPlugin as exc:
            errors.append(f"{where}: {exc}")
    if "display_name" in raw and (
            not isinstance(display_name, str) or not display_name.strip() or len(display_name) > MAX_DISPLAY_NAME
            or any(unicodedata.category(c).startswith("C") for c in display_name)):
        errors.append(f"{where}: display_name must be 1-{MAX_DISPLAY_NAME} printable characters")
    if not isinstance(enabled, bool):
        errors.append(f"{where}: enabled must be true or false")
    if not isinstance(settings, dict):
        errors.append(f"{where}: settings must be a mapping")
    elif problem := _json_problem(settings, "settings"):
        errors.append(f"{where}: {problem}")
    if isinstance(settings, dict) and isinstance(connection_id, str):
        credentials = plugin.stored_credentials if plugin is not None else ()
        errors += _secret_reference_errors(connection_id, settings, credentials, where)
    if errors or plugin is None:
        return None, errors
    record = existing.get(connection_id)
    if record is not None and record.connection.plugin != plugin.name:
        return None, [f"{where}: connection {connection_id!r} exists with plugin {record.connection.plugin!r}; a "
                      "connection's plugin cannot change (declare a new id)"]
    # Credentials stored through the API stay in use: their flags join the declared settings, as the API does.
    config = dict(settings) | {f"{name}_stored": True for name in plugin.stored_credentials
                               if name in stored.get(connection_id, frozenset())}
    connection = Connection(connection_id, plugin.name, display_name, config)
    if not errors:
        try:
            plugin.check_settings(connection)
        except (ValueError, TypeError) as exc:
            errors.append(f"{where}: settings: {exc}")
    return (None if errors else Declared(connection, enabled)), errors


def validate(entries: Sequence[Any], existing: Mapping[str, ConnectionRecord],
             stored: Mapping[str, frozenset[str]]) -> Validation:
    """Every entry checked (all errors, not the first); `existing` and `stored` are what the database holds."""
    result, seen = Validation(), set[str]()
    for index, raw in enumerate(entries):
        declared, errors = _entry(raw, index, seen, stored, existing)
        result.errors += errors
        if declared is not None:
            result.declared.append(declared)
    return result


# -- planning and applying ----------------------------------------------------------------------------------------
def plan(declared: Sequence[Declared], existing: Mapping[str, ConnectionRecord], *, prune: bool) -> list[Change]:
    """What applying the file changes, connection by connection (file order, then pruned ones by id)."""
    changes = []
    for item in declared:
        record = existing.get(item.connection.connection_id)
        if record is None:
            changes.append(Change("created", item.connection.connection_id, declared=item))
            continue
        differs = tuple(name for name, now, wanted in (
            ("display_name", record.connection.display_name, item.connection.display_name),
            ("enabled", record.enabled, item.enabled),
            ("settings", record.connection.config, item.connection.config)) if now != wanted)
        changes.append(Change("updated" if differs else "unchanged", item.connection.connection_id, differs, item))
    if prune:
        named = {item.connection.connection_id for item in declared}
        changes += [Change("disabled", cid, ("enabled",)) for cid, record in sorted(existing.items())
                    if cid not in named and record.enabled]
    return changes


def apply_changes(db: psycopg.Connection, changes: Sequence[Change], actor: str) -> None:
    """Write the changes, each with its audit entry, in the caller's transaction."""
    for change in changes:
        item = change.declared
        if change.action == "created" and item is not None:
            connection = item.connection
            if not create_connection(db, connection, enabled=item.enabled):
                raise RuntimeError(f"Connection {connection.connection_id!r} was created meanwhile: apply again")
            audit.record(db, actor, "connection.created", connection.connection_id,
                         {"plugin": connection.plugin, "enabled": item.enabled, "settings": sorted(connection.config),
                          "via": "connections_cli"})
        elif change.action == "updated" and item is not None:
            connection = item.connection
            update_connection(db, connection.connection_id, display_name=connection.display_name,
                              enabled=item.enabled, config=connection.config)
            audit.record(db, actor, "connection.changed", connection.connection_id,
                         {"fields": list(change.fields), "enabled": item.enabled, "via": "connections_cli"})
        elif change.action == "disabled":
            update_connection(db, change.connection_id, enabled=False)
            audit.record(db, actor, "connection.changed", change.connection_id,
                         {"fields": ["enabled"], "enabled": False, "via": "connections_cli --prune"})


def describe(change: Change) -> str:
    detail = {"updated": f" ({', '.join(change.fields)})", "disabled": " (not in the file)"}.get(change.action, "")
    return f"{change.action:<9} {change.connection_id}{detail}"


def run(path: Path, *, check: bool, prune: bool, db: psycopg.Connection, actor: str, out: TextIO,
        err: TextIO) -> int:
    """Validate the file against what `db` holds, then apply it (unless `check`) in one transaction."""
    entries, errors = read_file(path)
    if errors:
        print("\n".join(errors), file=err)
        return 1
    with db.transaction():
        existing = {r.connection.connection_id: r for r in connection_records(db)}
        stored = {cid: stored_names(db, cid) for cid in existing}
        result = validate(entries, existing, stored)
        if result.errors:
            print(f"{path}: {len(result.errors)} error(s); nothing was applied:", file=err)
            print("\n".join(f"  {e}" for e in result.errors), file=err)
            return 1
        changes = plan(result.declared, existing, prune=prune)
        if not check:
            apply_changes(db, changes, actor)
    print(f"Plan for {path} (--check: nothing applied):" if check else f"Applied {path}:", file=out)
    for change in changes:
        print(f"  {'would be ' if check else ''}{describe(change)}", file=out)
    counts = {a: sum(c.action == a for c in changes) for a in ("created", "updated", "unchanged", "disabled")}
    print(", ".join(f"{n} {a}" for a, n in counts.items()), file=out)
    return 0


def main(argv: list[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = argparse.ArgumentParser(prog="python -m plugins.connections_cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    apply = commands.add_parser("apply", help="apply a connections file (see connections.example.yaml)")
    apply.add_argument("file", type=Path)
    apply.add_argument("--check", action="store_true", help="validate and show the plan; change nothing")
    apply.add_argument("--prune", action="store_true", help="disable connections the file does not declare")
    args = parser.parse_args(argv)
    try:
        db = connect(application_name="bizmetrics-connections")
    except psycopg.OperationalError as exc:
        print(f"Cannot reach the database (BIZ_PG_DSN): {exc}", file=err)
        return 2
    with db:
        return run(args.file, check=args.check, prune=args.prune, db=db, actor=f"cli:{getpass.getuser()}",
                   out=out, err=err)


if __name__ == "__main__":
    sys.exit(main())
