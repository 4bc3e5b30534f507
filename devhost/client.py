"""Durable client bindings whose HTTP calls are served in-process by a ManagementApi.

The SDK's DurableOrchestrationClient is built from the binding JSON the extension passes to client
functions, and sends its requests through `_post_async_request` / `_get_async_request` /
`_delete_async_request` (aiohttp, module-level functions captured in __init__). `make_client`
replaces those on one client. Clients the DFApp middleware builds itself (inside HTTP and timer
functions) are reached by routing: `install_router` wraps the module-level functions once, and a
request whose URL starts with a registered host's RPC base URL is answered by that host; any other
URL goes to the original aiohttp functions unchanged.
"""

from __future__ import annotations

import importlib
import json
import threading
import uuid
import weakref
from typing import Any
from urllib.parse import quote

from azure.durable_functions import DurableOrchestrationClient

from devhost.management_api import WEBHOOK_BASE, ManagementApi

# The module (not the class of the same name) whose globals the client's __init__ reads.
client_module = importlib.import_module("azure.durable_functions.models.DurableOrchestrationClient")
_ROUTES: weakref.WeakValueDictionary[str, ManagementApi] = weakref.WeakValueDictionary()
_INSTALL_LOCK = threading.Lock()


def rpc_base_url(token: str) -> str:
    """The host-specific RPC base URL (the extension's is http://127.0.0.1:17071/durabletask/)."""
    return f"http://127.0.0.1:17071/devhost/{token}/durabletask/"


def binding_json(task_hub: str, token: str) -> str:
    """The durableClient binding payload, shaped like the one the extension sends."""
    qs = f"taskHub={quote(task_hub)}&connection=Storage"
    instance = f"{WEBHOOK_BASE}/instances/INSTANCEID"
    return json.dumps({
        "taskHubName": task_hub,
        "creationUrls": {
            "createNewInstancePostUri": f"{WEBHOOK_BASE}/orchestrators/{{functionName}}[/{{instanceId}}]?{qs}",
            "createAndWaitOnNewInstancePostUri": f"{WEBHOOK_BASE}/orchestrators/{{functionName}}[/{{instanceId}}]"
                                                 f"?timeout={{timeoutInSeconds}}&pollingInterval="
                                                 f"{{intervalInSeconds}}&{qs}",
        },
        "managementUrls": {
            "id": "INSTANCEID",
            "statusQueryGetUri": f"{instance}?{qs}",
            "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{qs}",
            "terminatePostUri": f"{instance}/terminate?reason={{text}}&{qs}",
            "rewindPostUri": f"{instance}/rewind?reason={{text}}&{qs}",
            "purgeHistoryDeleteUri": f"{instance}?{qs}",
            "restartPostUri": f"{instance}/restart?{qs}",
            "suspendPostUri": f"{instance}/suspend?reason={{text}}&{qs}",
            "resumePostUri": f"{instance}/resume?reason={{text}}&{qs}",
        },
        "baseUrl": WEBHOOK_BASE,
        "requiredQueryStringParameters": "",
        "rpcBaseUrl": rpc_base_url(token),
    })


def new_token() -> str:
    """A random id naming one host in RPC URLs."""
    return uuid.uuid4().hex


def make_client(api: ManagementApi, binding: str) -> DurableOrchestrationClient:
    """A real SDK client whose requests go straight to `api`."""
    client = DurableOrchestrationClient(binding)
    post, get, delete = _handlers(api)
    client._post_async_request = post
    client._get_async_request = get
    client._delete_async_request = delete
    return client


def register(token: str, api: ManagementApi) -> None:
    """Route requests for `rpc_base_url(token)` to `api` (held weakly) and make sure routing is installed."""
    install_router()
    _ROUTES[rpc_base_url(token)] = api


def install_router() -> None:
    """Wrap the SDK's request functions once; unknown URLs still go to aiohttp."""
    with _INSTALL_LOCK:
        if getattr(client_module, "_devhost_router", False):
            return
        original = (client_module.post_async_request, client_module.get_async_request,
                    client_module.delete_async_request)

        async def post(url: str, data: Any = None, trace_parent: str | None = None,
                       trace_state: str | None = None, function_invocation_id: str | None = None) -> list[Any]:
            api = _route(url)
            if api is None:
                return await original[0](url, data, trace_parent, trace_state, function_invocation_id)
            return _answer(api, "POST", url, data)

        async def get(url: str, function_invocation_id: str | None = None) -> list[Any]:
            api = _route(url)
            if api is None:
                return await original[1](url, function_invocation_id)
            return _answer(api, "GET", url, None)

        async def delete(url: str, function_invocation_id: str | None = None) -> list[Any]:
            api = _route(url)
            if api is None:
                return await original[2](url, function_invocation_id)
            return _answer(api, "DELETE", url, None)

        client_module.post_async_request = post
        client_module.get_async_request = get
        client_module.delete_async_request = delete
        client_module._devhost_router = True


def _route(url: str) -> ManagementApi | None:
    for prefix, api in list(_ROUTES.items()):
        if url.startswith(prefix):
            return api
    return None


def _handlers(api: ManagementApi) -> tuple[Any, Any, Any]:
    async def post(url: str, data: Any = None, trace_parent: str | None = None,
                   trace_state: str | None = None, function_invocation_id: str | None = None) -> list[Any]:
        return _answer(api, "POST", url, data)

    async def get(url: str, function_invocation_id: str | None = None) -> list[Any]:
        return _answer(api, "GET", url, None)

    async def delete(url: str, function_invocation_id: str | None = None) -> list[Any]:
        return _answer(api, "DELETE", url, None)

    return post, get, delete


def _answer(api: ManagementApi, method: str, url: str, data: Any) -> list[Any]:
    # The SDK hands over bodies already JSON-encoded (start_new: df_dumps, raise_event: json.dumps).
    body = data if isinstance(data, str) or data is None else json.dumps(data)
    status, payload = api.handle(method, url, body)
    if method == "GET" and payload is None:
        payload = ""  # what http_utils.get_async_request returns for an empty body
    return [status, payload]
