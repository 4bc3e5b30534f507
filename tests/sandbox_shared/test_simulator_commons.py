"""What both simulators share (sandbox/faults.py, sandbox/serve.py) behaves the same in each, and neither leans
on the app's code."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import sandbox
import sandbox.monday as monday
import sandbox.quickbooks as quickbooks
from sandbox.monday.__main__ import _parser as monday_cli
from sandbox.quickbooks.__main__ import _parser as quickbooks_cli

SANDBOX = Path(sandbox.__file__).resolve().parent


def _monday() -> tuple[Any, web.Application, Callable[[aiohttp.ClientSession, TestServer], Any]]:
    account = monday.MondayAccount.generate(seed=3, workspaces=1, boards=1, items_per_board=5, subitems_per_item=0)
    state = monday.MondayState(accounts=[account], tokens={"t": account.id}, copy_accounts=False)
    return state, monday.create_app(state), lambda session, server: session.post(
        server.make_url("/v2"), json={"query": "{ me { id } }"}, headers={"Authorization": "t"})


def _quickbooks() -> tuple[Any, web.Application, Callable[[aiohttp.ClientSession, TestServer], Any]]:
    company = quickbooks.DemoCompany.generate(realm_id="1", seed=3, customers=2, invoices=2, payments=1)
    state = quickbooks.SimulatorState(companies=[company], access_tokens={"t"})
    return state, quickbooks.create_app(state), lambda session, server: session.get(
        server.make_url("/v3/company/1/query"), params={"query": "SELECT * FROM Item", "minorversion": "75"},
        headers={"Authorization": "Bearer t"})


@pytest.mark.parametrize("simulator", [_monday, _quickbooks], ids=["monday", "quickbooks"])
async def test_a_request_held_by_a_timeout_fault_ends_when_its_server_stops(simulator) -> None:
    state, app, send = simulator()
    state.faults.inject("timeout")  # holds the request longer than the real service's own limit (a minute or more)
    server = TestServer(app)
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        request = asyncio.ensure_future(send(session, server))
        while state.faults.pending():  # the request has taken the fault and hangs
            await asyncio.sleep(0.01)
        closing = asyncio.ensure_future(server.close())
        await asyncio.wait([closing], timeout=5)
        stopped_in_time = closing.done()
        state.faults.release()  # a failing run ends now rather than after the whole hang
        await closing
        response = await request
    assert stopped_in_time and response.status == 504


@pytest.mark.parametrize(("cli", "port", "clock_start", "hang_seconds"), [
    (monday_cli, 8762, "2026-05-04T09:00:00Z", 75.0),
    (quickbooks_cli, 8761, "2026-11-01T12:00:00-07:00", 130.0),
], ids=["monday", "quickbooks"])
def test_both_command_lines_take_the_common_flags_with_their_own_defaults(
        cli: Callable[[], Any], port: int, clock_start: str, hang_seconds: float) -> None:
    defaults = vars(cli().parse_args([]))
    assert {k: defaults[k] for k in ("host", "port", "seed", "clock_start", "frozen_clock", "hang_seconds")} == {
        "host": "127.0.0.1", "port": port, "seed": 7, "clock_start": clock_start, "frozen_clock": False,
        "hang_seconds": hang_seconds}
    given = vars(cli().parse_args(["--host", "0.0.0.0", "--port", "9", "--seed", "2", "--frozen-clock",
                                   "--clock-start", "2026-01-01T00:00:00Z", "--hang-seconds", "0.5"]))
    assert (given["host"], given["port"], given["seed"], given["frozen_clock"], given["clock_start"],
            given["hang_seconds"]) == ("0.0.0.0", 9, 2, True, "2026-01-01T00:00:00Z", 0.5)


def test_the_simulators_import_nothing_from_the_app_they_stand_in_front_of() -> None:
    # A simulator built from the plugins' own code would agree with their mistakes instead of catching them.
    app_packages = {"plugins", "shared", "activities", "orchestrators", "api", "devhost", "function_app"}
    offenders = [f"{path.relative_to(SANDBOX.parent)}: {module}" for path in sorted(SANDBOX.rglob("*.py"))
                 for module in _absolute_imports(path) if module.split(".")[0] in app_packages]
    assert offenders == []


def _absolute_imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("simulator", [_monday, _quickbooks], ids=["monday", "quickbooks"])
async def test_a_latency_set_through_the_control_plane_holds_every_api_request_at_least_that_long(simulator) -> None:
    _, app, send = simulator()
    server = TestServer(app)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(server.make_url("/_sim/latency")) as response:
                assert await response.json() == {"seconds": 0.0}
            async with session.post(server.make_url("/_sim/latency"), json={"seconds": -1}) as response:
                assert response.status == 400 and "between 0 and" in (await response.json())["error"]
            async with session.post(server.make_url("/_sim/latency"), json={"seconds": 0.3}) as response:
                assert await response.json() == {"seconds": 0.3}
            started = asyncio.get_running_loop().time()
            async with send(session, server) as response:
                assert response.status == 200
            assert asyncio.get_running_loop().time() - started >= 0.3  # a lower bound: the delay was served
    finally:
        await server.close()


@pytest.mark.parametrize("cli", [monday_cli, quickbooks_cli], ids=["monday", "quickbooks"])
def test_a_latency_given_on_the_command_line_reaches_the_app(cli: Callable[[], Any], monkeypatch) -> None:
    from sandbox.latency import LATENCY_KEY, install_latency

    assert cli().parse_args(["--latency", "1.0"]).latency == 1.0
    assert cli().parse_args([]).latency is None  # then SIM_LATENCY_SECONDS, else none
    monkeypatch.setenv("SIM_LATENCY_SECONDS", "0.5")
    app = web.Application()
    install_latency(app)
    assert app[LATENCY_KEY].seconds == 0.5
