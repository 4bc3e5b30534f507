"""Runs one full sync through a local host in this process; the crash test kills it with SIGKILL mid-way."""

import json
import sys

from devhost import LocalDurableHost
from function_app import app

store, connection_id = sys.argv[1], sys.argv[2]
host = LocalDurableHost(app, store, virtual_time=True)
response = host.invoke_http(
    "start_sync_http", "POST", url="http://localhost/api/syncs",
    body=json.dumps({"connection_id": connection_id, "mode": "full", "options": {"max_pages": 1}}).encode(),
)
instance_id = json.loads(response.get_body())["instanceId"]
print(instance_id, flush=True)
host.run_until_complete(instance_id, timeout=600)
