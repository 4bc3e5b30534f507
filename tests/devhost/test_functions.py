"""Function indexing and trigger payloads."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from devhost import LocalDurableHost
from devhost.functions import ACTIVITY, HTTP, ORCHESTRATOR, TIMER, function_index
from devhost.triggers import match_route
from tests.devhost.sample_app import app


def test_the_sample_app_is_indexed_once_and_shared_by_hosts(tmp_path):
    index = function_index(app)
    assert function_index(app) is index
    assert "sequence" in index.names(ORCHESTRATOR) and "double" in index.names(ACTIVITY)
    assert index.names(HTTP) == ["http_start", "http_status"] and index.names(TIMER) == ["timer_start"]
    assert index.by_name["http_start"].client_params == ("client",)
    one = LocalDurableHost(app, tmp_path / "a.sqlite")
    two = LocalDurableHost(app, tmp_path / "b.sqlite")
    try:
        assert one.functions is two.functions is index
    finally:
        one.close()
        two.close()


def test_an_app_whose_get_functions_was_already_called_can_still_be_hosted(tmp_path):
    bp = df.Blueprint()

    @bp.orchestration_trigger(context_name="context")
    def hello(context):
        return (yield context.call_activity("shout", "hi"))

    @bp.activity_trigger(input_name="text")
    def shout(text: str) -> str:
        return text.upper()

    other = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    other.register_functions(bp)
    other.get_functions()  # e.g. a unit test inspecting bindings; a second call would raise
    with LocalDurableHost(other, tmp_path / "s.sqlite", virtual_time=True) as host:
        instance_id = host.start_new("hello")
        assert host.run_until_complete(instance_id, timeout=10)["output"] == "HI"


def test_route_parameters_are_taken_from_the_url():
    assert match_route("status/{instance_id}", "/api/status/abc") == {"instance_id": "abc"}
    assert match_route("syncs/{id?}", "/api/syncs") == {}
    assert match_route("syncs/{id:int?}", "/api/syncs/7") == {"id": "7"}
    assert match_route("files/{*path}", "/api/files/a/b.txt") == {"path": "a/b.txt"}
    assert match_route("status/{instance_id}", "/api/other/abc") == {}
