"""Grafana's PostgreSQL macros, expanded as Grafana's own source does (pkg/tsdb/grafana-postgresql-datasource/
macros.go), so panel SQL can be run against a real database in tests and benchmarks.

Not the docs table: the source is what Grafana runs (e.g. $__timeFilter uses BETWEEN, times are UTC RFC 3339).
Like Grafana's regular expression, a macro's arguments end at the first `)`.
"""

from __future__ import annotations

import datetime as dt
import re

_MACRO = re.compile(r"\$(__[_a-zA-Z0-9]+)\(([^)]*)\)")
_INTERVAL = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def rfc3339(moment: dt.datetime) -> str:
    """Go's time.RFC3339Nano of a UTC time: no trailing zeros in the fraction, `Z` for UTC."""
    text = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def _seconds(interval: str) -> int:
    match = re.fullmatch(r"'?(\d+)([smhdw])'?", interval.strip())
    if not match:
        raise ValueError(f"unsupported interval {interval!r}")
    return int(match.group(1)) * _INTERVAL[match.group(2)]


def expand(sql: str, start: dt.datetime, end: dt.datetime, variables: dict[str, str] | None = None) -> str:
    """Template variables first ($name and ${name}), then the macros, as Grafana interpolates."""
    for name, value in sorted((variables or {}).items(), key=lambda kv: -len(kv[0])):
        sql = sql.replace("${" + name + "}", value).replace("$" + name, value)
    frm, to = rfc3339(start), rfc3339(end)

    def replace(match: re.Match[str]) -> str:
        name, raw = match.group(1), match.group(2)
        args = [a.strip() for a in raw.split(",")] if raw.strip() else []
        if name == "__time":
            return f'{args[0]} AS "time"'
        if name == "__timeEpoch":
            return f'extract(epoch from {args[0]}) AS "time"'
        if name == "__timeFilter":
            return f"{args[0]} BETWEEN '{frm}' AND '{to}'"
        if name == "__timeFrom":
            return f"'{frm}'"
        if name == "__timeTo":
            return f"'{to}'"
        if name in ("__timeGroup", "__timeGroupAlias"):
            seconds = _seconds(args[1])
            text = f"floor(extract(epoch from {args[0]})/{seconds})*{seconds}"
            return text + (' AS "time"' if name == "__timeGroupAlias" else "")
        if name == "__unixEpochFilter":
            return f"{args[0]} >= {int(start.timestamp())} AND {args[0]} <= {int(end.timestamp())}"
        if name == "__unixEpochFrom":
            return str(int(start.timestamp()))
        if name == "__unixEpochTo":
            return str(int(end.timestamp()))
        raise ValueError(f"macro ${name} is not supported by this expander")

    return _MACRO.sub(replace, sql)
