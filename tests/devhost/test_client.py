"""The real SDK client served in-process; HTTP and timer functions whose durable client reaches the host."""

from __future__ import annotations

import asyncio
import json

import azure.functions as func
import pytest
from azure.durable_functions import DurableOrchestrationClient, OrchestrationRuntimeStatus


def test_client_starts_queries_raises_events_and_purges(host):
    client = host.client()
    assert isinstance(client, DurableOrchestrationClient)
    instance_id = asyncio.run(client.start_new("wait_event", "c-1", {"x": 1}))
    assert instance_id == "c-1"
    status = asyncio.run(client.get_status("c-1"))
    assert status.runtime_status == OrchestrationRuntimeStatus.Pending
    assert status.input_ == {"x": 1} and status.name == "wait_event"
    host.run_until_idle()
    assert asyncio.run(client.get_status("c-1")).custom_status == {"stage": "waiting"}
    asyncio.run(client.raise_event("c-1", "approval", {"approved": True}))
    host.run_until_complete("c-1", timeout=10)
    done = asyncio.run(client.get_status("c-1"))
    assert done.runtime_status == OrchestrationRuntimeStatus.Completed
    assert done.output == {"approved": True}
    with pytest.raises(Exception, match="is gone"):
        asyncio.run(client.raise_event("c-1", "approval", 1))
    everything = asyncio.run(client.get_status_all())
    assert [s.instance_id for s in everything] == ["c-1"]
    completed = asyncio.run(client.get_status_by(runtime_status=[OrchestrationRuntimeStatus.Completed]))
    assert [s.instance_id for s in completed] == ["c-1"]
    assert asyncio.run(client.purge_instance_history("c-1")).instances_deleted == 1
    assert host.get_status("c-1") is None


def test_unknown_instance_gives_the_sdks_not_found_status(host):
    status = asyncio.run(host.client().get_status("nope"))
    assert not status  # falsy, as the SDK builds it from the extension's empty 404
    assert status.runtime_status is None and status.instance_id is None


def test_client_terminate_and_errors(host):
    client = host.client()
    asyncio.run(client.start_new("wait_event", "t-1"))
    host.run_until_idle()
    asyncio.run(client.terminate("t-1", "operator said so"))
    status = host.run_until_complete("t-1", timeout=10)
    assert status["runtimeStatus"] == "Terminated" and status["output"] == "operator said so"
    with pytest.raises(Exception, match="No instance with ID 'missing' found"):
        asyncio.run(client.terminate("missing", "x"))
    with pytest.raises(Exception, match="doesn't exist"):
        asyncio.run(client.start_new("not_an_orchestrator"))
    asyncio.run(client.start_new("wait_event", "t-2"))
    with pytest.raises(Exception, match="already Pending"):
        asyncio.run(client.start_new("wait_event", "t-2"))


def test_check_status_response_urls_are_served_by_the_host(host):
    client = host.client()
    asyncio.run(client.start_new("wait_event", "urls"))
    request = func.HttpRequest("POST", "http://example.test:8080/api/start", body=b"")
    response = client.create_check_status_response(request, "urls")
    assert response.status_code == 202
    links = json.loads(response.get_body())
    assert response.headers["Location"] == links["statusQueryGetUri"]
    assert links["statusQueryGetUri"].startswith("http://example.test:8080/runtime/webhooks/durabletask/instances/urls")
    code, status = host.webhook("GET", links["statusQueryGetUri"])
    assert code == 202 and status["runtimeStatus"] == "Pending"
    host.run_until_idle()
    code, _ = host.webhook("POST", links["sendEventPostUri"].replace("{eventName}", "approval"), b'{"via": "url"}')
    assert code == 202
    host.run_until_complete("urls", timeout=10)
    code, status = host.webhook("GET", links["statusQueryGetUri"])
    assert code == 200 and status["output"] == {"via": "url"}
    code, body = host.webhook("DELETE", links["purgeHistoryDeleteUri"])
    assert (code, body) == (200, {"instancesDeleted": 1})
    assert host.webhook("GET", links["statusQueryGetUri"]) == (404, None)


def test_http_function_starts_an_orchestration_through_its_durable_client(host):
    response = host.invoke_http("http_start", "POST", url="http://localhost:7071/api/start/sequence?id=h-1",
                                body=json.dumps(4).encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 202
    body = json.loads(response.get_body())
    assert body["id"] == "h-1"
    assert body["statusQueryGetUri"].startswith("http://localhost:7071/runtime/webhooks/durabletask/instances/h-1")
    status = host.run_until_complete("h-1", timeout=10)
    assert status["output"]["doubled"] == 8
    ok = host.invoke_http("http_status", "GET", url="http://localhost/api/status/h-1")
    assert ok.status_code == 200 and json.loads(ok.get_body()) == {"runtimeStatus": "Completed"}
    missing = host.invoke_http("http_status", "GET", url="http://localhost/api/status/nope",
                               route_params={"instance_id": "nope"})
    assert missing.status_code == 404


def test_http_function_works_from_async_code_too(host):
    async def call() -> func.HttpResponse:
        return host.invoke_http("http_start", "POST", url="http://localhost/api/start/sequence?id=h-2",
                                body=b"3")

    assert asyncio.run(call()).status_code == 202
    assert host.run_until_complete("h-2", timeout=10)["output"]["doubled"] == 6


def test_timer_function_starts_an_orchestration_through_its_durable_client(host):
    assert host.invoke_timer("timer_start") is None
    status = host.run_until_complete("timer-singleton", timeout=10)
    assert status["runtimeStatus"] == "Completed" and status["input"] == 7
    host.invoke_timer("timer_start", past_due=True)  # finished, so it starts again
    assert host.run_until_complete("timer-singleton", timeout=10)["input"] == 0


def test_background_driver_serves_the_client_while_the_caller_waits(host):
    host.start()
    try:
        client = host.client()
        asyncio.run(client.start_new("sequence", "bg", 10))
        status = host.wait_for("bg", timeout=10)
        assert status["runtimeStatus"] == "Completed" and status["output"]["doubled"] == 20
        asyncio.run(client.start_new("wait_event", "bg-wait"))
        assert host.wait_for("bg-wait", timeout=0.3)["runtimeStatus"] == "Running"  # returns at the timeout
        asyncio.run(client.raise_event("bg-wait", "approval", "yes"))
        assert host.run_until_complete("bg-wait", timeout=10)["output"] == "yes"
    finally:
        host.stop()
