"""`make api`: the API as a real server on loopback, backed by the local Durable host and the local services.

    .venv/bin/python -m devhost.api_server [--port 8770] [--store .local/api-devhost.sqlite] [--queue NAME=OTHER]

Syncs started through it run in this process (the local host drives them on a background thread, and runs the
change queue's trigger against Azurite, so webhooks sync end to end), against the
simulators `make services` started. Its own host store: two drivers on one store are not supported, so this
server and `make demo` do not share one. Loopback only: it is a development server.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PORT = 8770
STORE = Path(".local/api-devhost.sqlite")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--store", type=Path, default=STORE, help="this server's local Durable host state file")
    parser.add_argument("--queue", action="append", default=[], metavar="NAME=OTHER",
                        help="read queue OTHER in place of a trigger's queue NAME (e.g. a test's own); for the change "
                             "queue, the webhook routes write to OTHER too")
    args = parser.parse_args(argv)
    queue_names = dict(pair.split("=", 1) for pair in args.queue if "=" in pair)

    import uvicorn

    from api.app import create_app
    from devhost import LocalDurableHost, local_env
    from devhost.demo import prepare_local_environment
    from function_app import app as functions_app
    from shared.changes import intake
    from shared.changes.queue import QUEUE_NAME, queue_client

    prepare_local_environment()
    key_file = local_env.KEY_FILE
    local_env.local_api_key()
    args.store.parent.mkdir(parents=True, exist_ok=True)
    host = LocalDurableHost(functions_app, args.store, queue_names=queue_names)
    host.start(queues=True)  # change notices (webhooks) too, as the Functions host runs the queue trigger
    try:
        api = create_app(durable_client=host.client())
        if QUEUE_NAME in queue_names:
            # The webhook routes put their notices where this server's trigger reads them (a test's own queue).
            change_queue = queue_client(name=queue_names[QUEUE_NAME])
            api.dependency_overrides[intake.default_target] = lambda: intake.Target(queue=change_queue)
        print(f"Bizmetrics API on http://127.0.0.1:{args.port}/api/docs (OpenAPI: /api/openapi.json).\n"
              f'Local key (all scopes): curl -H "Authorization: Bearer $(cat {key_file})" '
              f"http://127.0.0.1:{args.port}/api/connections", flush=True)
        uvicorn.run(api, host="127.0.0.1", port=args.port, log_level="info")
    finally:
        host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
