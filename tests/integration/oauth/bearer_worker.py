"""A separate process for the concurrency test: wait for "go" on stdin, call bearer_token once, print JSON."""

from __future__ import annotations

import json
import sys

from plugins.quickbooks.oauth import bearer_token
from shared.db.connections import Connection


def main() -> None:
    spec = json.loads(sys.argv[1])
    connection = Connection(spec["connection_id"], "quickbooks", "worker", spec["config"])
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        outcome = {"token": bearer_token(connection)}
    except Exception as exc:
        outcome = {"error": f"{type(exc).__name__}: {exc}", "code": getattr(exc, "code", None)}
    print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main()
