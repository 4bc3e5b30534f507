"""Runs one full sync through a local host in this process; the crash test kills it with SIGKILL mid-way."""

import sys

from devhost import LocalDurableHost
from function_app import app
from tests.api_calls import start_sync

store, connection_id = sys.argv[1], sys.argv[2]
host = LocalDurableHost(app, store, virtual_time=True)
instance_id, _ = start_sync(host, {"connection_id": connection_id, "mode": "full", "options": {"max_pages": 1}})
print(instance_id, flush=True)
host.run_until_complete(instance_id, timeout=600)
