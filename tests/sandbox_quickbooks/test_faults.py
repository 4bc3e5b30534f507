"""Injected failures: each kind looks like the real failure it stands for."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET

import aiohttp
import pytest

from sandbox.quickbooks import SimulatorState

from .conftest import REALM, Api

QUERY = {"query": "SELECT COUNT(*) FROM Item", "minorversion": "75"}


async def _raw(api: Api, path: str = "query", params: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    response = await api.client.get(f"/v3/company/{REALM}/{path}", params=params or QUERY, headers=api.headers())
    await response.read()
    return response


async def test_429_is_a_json_throttle_fault(api: Api, state: SimulatorState) -> None:
    state.faults.inject("429")
    response = await _raw(api)
    body = json.loads(await response.text())
    assert response.status == 429 and response.headers["Content-Type"].startswith("application/json")
    error = body["Fault"]["Error"][0]
    assert error["code"] == "3001" and "ThrottleExceeded" in error["Message"]
    assert (await _raw(api)).status == 200  # one fault, one request


async def test_429_xml_sends_xml_although_json_was_asked_for(api: Api, state: SimulatorState) -> None:
    state.faults.inject("429_xml")
    response = await _raw(api)
    assert response.status == 429 and response.headers["Content-Type"] == "text/xml"
    root = ET.fromstring(await response.text())
    error = root.find("{http://schema.intuit.com/finance/v3}Fault/{http://schema.intuit.com/finance/v3}Error")
    assert error is not None and error.get("code") == "3001"
    with pytest.raises(json.JSONDecodeError):
        json.loads(await response.text())


async def test_500_is_a_system_fault(api: Api, state: SimulatorState) -> None:
    state.faults.inject("500")
    response = await _raw(api)
    body = json.loads(await response.text())
    assert response.status == 500 and body["Fault"]["type"] == "SystemFault"


async def test_503_is_an_html_page(api: Api, state: SimulatorState) -> None:
    state.faults.inject("503")
    response = await _raw(api)
    assert response.status == 503 and response.headers["Content-Type"] == "text/html"
    assert "503" in await response.text()


async def test_fault_in_200_carries_a_fault_with_status_200(api: Api, state: SimulatorState) -> None:
    state.faults.inject("fault_in_200")
    response = await _raw(api)
    body = json.loads(await response.text())
    assert response.status == 200 and "Fault" in body and "QueryResponse" not in body


async def test_truncated_is_a_200_whose_json_is_cut_off(api: Api, state: SimulatorState) -> None:
    full = await (await _raw(api, params={"query": "SELECT * FROM Invoice", "minorversion": "75"})).text()
    state.faults.inject("truncated")
    response = await _raw(api, params={"query": "SELECT * FROM Invoice", "minorversion": "75"})
    text = await response.text()
    assert response.status == 200 and response.headers["Content-Type"].startswith("application/json")
    assert full.startswith(text) and len(text) < len(full)
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


async def test_401_uses_the_lowercase_gateway_wrapper(api: Api, state: SimulatorState) -> None:
    state.faults.inject("401")
    response = await _raw(api)
    body = json.loads(await response.text())
    assert response.status == 401 and body["fault"]["error"][0]["code"] == "3200"
    assert "Token expired" in body["fault"]["error"][0]["detail"]


async def test_timeout_hangs_past_the_client_timeout(api: Api, state: SimulatorState) -> None:
    state.faults.hang_seconds = 5.0
    state.faults.inject("timeout")
    with pytest.raises(asyncio.TimeoutError):
        await api.client.get(f"/v3/company/{REALM}/query", params=QUERY, headers=api.headers(),
                             timeout=aiohttp.ClientTimeout(total=0.3))
    assert (await _raw(api)).status == 200


async def test_timeout_that_outlives_the_hang_ends_as_a_gateway_timeout(api: Api, state: SimulatorState) -> None:
    state.faults.hang_seconds = 0.05
    state.faults.inject("timeout")
    response = await _raw(api)
    assert response.status == 504


async def test_faults_can_target_a_path_and_repeat(api: Api, state: SimulatorState) -> None:
    state.faults.inject("500", count=2, path_contains="/cdc")
    assert (await _raw(api)).status == 200
    cdc = {"entities": "Invoice", "changedSince": state.clock.now().isoformat(), "minorversion": "75"}
    assert [(await _raw(api, "cdc", cdc)).status for _ in range(3)] == [500, 500, 200]
    assert state.faults.pending() == []


async def test_faulted_requests_are_metered(api: Api, state: SimulatorState) -> None:
    state.faults.inject("503", count=2)
    for _ in range(3):
        await _raw(api)
    assert state.calls(REALM) == 3
    assert state.stats(REALM)["by_status"] == {"200": 1, "503": 2}


def test_unknown_fault_kind_is_rejected(state: SimulatorState) -> None:
    with pytest.raises(ValueError):
        state.faults.inject("418")
