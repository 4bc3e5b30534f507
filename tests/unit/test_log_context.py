"""Log records carry the ids bound where they were logged, nested bindings add to the outer ones."""

from __future__ import annotations

import logging

import pytest

from shared.core.logcontext import current_ids, install_log_context, log_ids


def test_bound_ids_reach_each_record_and_unbind_on_exit(caplog):
    install_log_context()
    caplog.set_level(logging.INFO, logger="test.logcontext")
    log = logging.getLogger("test.logcontext")
    with log_ids(run_id="run-1", connection_id="acme"):
        with log_ids(stream="Invoice"):
            log.info("inner")
        log.info("outer")
    log.info("after")
    inner, outer, after = caplog.records[-3:]
    assert (inner.run_id, inner.connection_id, inner.stream) == ("run-1", "acme", "Invoice")
    assert (outer.run_id, outer.connection_id) == ("run-1", "acme") and not hasattr(outer, "stream")
    assert not hasattr(after, "run_id") and current_ids() == {}


def test_only_known_ids_bind():
    with pytest.raises(ValueError, match="Unknown log ids"), log_ids(token="x"):
        pass


def test_a_registered_activity_binds_the_ids_of_its_input_and_keeps_its_kind_and_signature() -> None:
    import asyncio
    import inspect

    from activities.logging_ids import with_log_ids

    seen: list[dict[str, str]] = []

    def plan(request: dict) -> str:
        seen.append(current_ids())
        return "planned"

    async def fetch(request: dict) -> str:
        seen.append(current_ids())
        return "fetched"

    wrapped_plan, wrapped_fetch = with_log_ids(plan), with_log_ids(fetch)
    assert inspect.iscoroutinefunction(wrapped_fetch) and not inspect.iscoroutinefunction(wrapped_plan)
    assert wrapped_plan.__name__ == "plan" and list(inspect.signature(wrapped_fetch).parameters) == ["request"]
    request = {"run_id": "run-1", "connection_id": "acme", "stream": "Invoice", "instance_id": "sync-acme",
               "cursor": {"position": 1}}
    assert wrapped_plan(request) == "planned"
    assert asyncio.run(wrapped_fetch(request)) == "fetched"
    assert seen == [{"run_id": "run-1", "connection_id": "acme", "stream": "Invoice", "instance_id": "sync-acme"}] * 2
    assert current_ids() == {}
