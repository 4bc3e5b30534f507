"""`python -m api.auth`: create, list, revoke and rotate API keys (run by an operator against the app database).

A new key goes to standard output once, alone on its line (so `KEY=$(python -m api.auth create ...)` works);
everything else goes to standard error. No command ever prints a stored hash."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from api.auth.keys import DEFAULT_GRACE, ApiKey, ApiKeys, IssuedKey, KeyNotFound
from api.auth.principal import SCOPES
from shared.db.connect import connect

_DURATION = re.compile(r"(\d{1,6})([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> dt.timedelta:
    """'90d', '24h', '30m', '2w', '45s'."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90d, 24h, 30m, 2w")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def cli_actor() -> str:
    """Who the audit log names for a CLI change: the operating-system user running it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api.auth", description="Manage Bizmetrics API keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key (printed once)")
    create.add_argument("--name", required=True, help="what the key is for, e.g. 'grafana prod'")
    create.add_argument("--scope", action="append", required=True, choices=SCOPES, dest="scopes")
    create.add_argument("--connection", action="append", dest="connections", metavar="CONNECTION_ID",
                        help="limit the key to this connection (repeat for more); default: every connection")
    create.add_argument("--expires-in", type=parse_duration, metavar="DURATION", help="e.g. 90d (default: never)")
    commands.add_parser("list", help="list keys (never their secrets)")
    revoke = commands.add_parser("revoke", help="refuse a key from now on")
    revoke.add_argument("key_id")
    rotate = commands.add_parser("rotate", help="issue a replacement; the old key works for the grace period")
    rotate.add_argument("key_id")
    rotate.add_argument("--grace", type=parse_duration, default=DEFAULT_GRACE, metavar="DURATION",
                        help="how long the old key keeps working (default 24h)")
    return parser


def main(argv: Sequence[str] | None = None, *, conn_factory: Callable[[], Any] = connect,
         out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = _parser().parse_args(argv)
    keys = ApiKeys(conn_factory)
    actor = cli_actor()
    try:
        if args.command == "create":
            issued = keys.create(args.name, args.scopes, args.connections, args.expires_in, actor=actor)
            _print_issued(issued, out, err)
        elif args.command == "list":
            _print_table(keys.list_keys(), out)
        elif args.command == "revoke":
            key = keys.revoke(args.key_id, actor=actor)
            print(f"Revoked API key {key.key_id} ({key.name}) at {_when(key.revoked_at)}", file=err)
        elif args.command == "rotate":
            issued = keys.rotate(args.key_id, args.grace, actor=actor)
            old = keys.get(args.key_id)
            _print_issued(issued, out, err)
            print(f"The old key {old.key_id} keeps working until {_when(old.expires_at)}; "
                  "switch every caller to the new key before then.", file=err)
    except (ValueError, KeyNotFound) as exc:
        print(f"error: {exc}", file=err)
        return 2
    return 0


def _print_issued(issued: IssuedKey, out: TextIO, err: TextIO) -> None:
    key = issued.key
    allow = ", ".join(sorted(key.connections)) if key.connections is not None else "all connections"
    print(f"Created API key {key.key_id} ({key.name}): scopes {', '.join(sorted(key.scopes))}; {allow}; "
          f"expires {_when(key.expires_at)}.", file=err)
    print("Store the key printed on standard output now: it is not kept and cannot be shown again.", file=err)
    print(issued.text, file=out)
    out.flush()


def _print_table(keys: list[ApiKey], out: TextIO) -> None:
    now = dt.datetime.now(dt.UTC)
    header = ("KEY ID", "NAME", "SCOPES", "CONNECTIONS", "CREATED", "EXPIRES", "LAST USED", "STATE")
    rows = [(k.key_id, k.name, ",".join(sorted(k.scopes)),
             ",".join(sorted(k.connections)) if k.connections is not None else "*",
             f"{_when(k.created_at)} by {k.created_by}", _when(k.expires_at), _when(k.last_used_at),
             k.state(now) + (f" -> {k.replaced_by}" if k.replaced_by else "")) for k in keys]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "never"
