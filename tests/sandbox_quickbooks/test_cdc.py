"""Change data capture: envelope, hard deletes, the 30-day window and the 1,000-object cap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, ThrottleLimits, create_app
from sandbox.quickbooks.clock import parse_instant

from . import reference
from .conftest import REALM, START, TOKEN, Api


def _by_entity(body: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for part in body["CDCResponse"][0]["QueryResponse"]:
        for key, value in part.items():
            if isinstance(value, list):
                out[key] = value
    return out


async def test_envelope_matches_the_recorded_cdc_response(api: Api, state: SimulatorState) -> None:
    recorded = reference.cassette_bodies("cdc/basic.yml")[0]
    since = (state.clock.now() - timedelta(days=10)).isoformat()
    status, body = await api.cdc("Invoice,Payment", since)
    assert status == 200
    assert list(body) == list(recorded) == ["CDCResponse", "time"]
    assert len(body["CDCResponse"]) == 1 and list(body["CDCResponse"][0]) == ["QueryResponse"]
    parts = body["CDCResponse"][0]["QueryResponse"]
    names = [next(iter(p)) for p in parts]
    assert names == ["Invoice", "Payment"]
    recorded_part = recorded["CDCResponse"][0]["QueryResponse"][0]
    assert list(recorded_part) == ["Estimate", "startPosition", "maxResults"]
    for name, part in zip(names, parts, strict=True):
        assert list(part) == [name, "startPosition", "maxResults"]
        assert part["maxResults"] == len(part[name]) and part["startPosition"] == 1


async def test_changes_since_an_instant_include_updates_and_hard_deletes(api: Api, state: SimulatorState) -> None:
    since = state.clock.now().isoformat()
    invoices = sorted(state.records(REALM, "Invoice"), key=lambda r: int(r["Id"]))
    kept, gone = invoices[0]["Id"], invoices[1]["Id"]
    state.update(REALM, "Invoice", kept, {"PrivateNote": "changed"})
    state.delete(REALM, "Invoice", gone)
    status, body = await api.cdc("Invoice", since)
    assert status == 200
    rows = _by_entity(body)["Invoice"]
    assert [r["Id"] for r in rows] == [kept, gone]
    stub = rows[1]
    assert stub == {"domain": "QBO", "status": "Deleted", "Id": gone,
                    "MetaData": {"LastUpdatedTime": stub["MetaData"]["LastUpdatedTime"]}}
    assert parse_instant(stub["MetaData"]["LastUpdatedTime"]) > parse_instant(since)
    assert await api.rows(f"SELECT * FROM Invoice WHERE Id = '{gone}'", "Invoice") == []
    status, _ = await api.get(f"invoice/{gone}")
    assert status == 400


async def test_generated_history_already_holds_recent_deletes(api: Api, state: SimulatorState,
                                                              company: DemoCompany) -> None:
    since = (state.clock.now() - timedelta(days=29)).isoformat()
    _, body = await api.cdc("invoice", since)  # entity names are matched without regard to case
    deleted = {r["Id"] for r in _by_entity(body)["Invoice"] if r.get("status") == "Deleted"}
    assert deleted == {t.id for t in company.deleted}


async def test_deleting_a_payment_reopens_its_invoices_and_both_show_in_cdc(api: Api, state: SimulatorState) -> None:
    payment = next(p for p in state.records(REALM, "Payment") if p["Line"])
    invoice_id = payment["Line"][0]["LinkedTxn"][0]["TxnId"]
    balance_before = state.get(REALM, "Invoice", invoice_id)["Balance"]
    since = state.clock.now().isoformat()
    state.delete(REALM, "Payment", payment["Id"])
    invoice = state.get(REALM, "Invoice", invoice_id)
    assert round(invoice["Balance"] * 100) == round(balance_before * 100) + round(payment["Line"][0]["Amount"] * 100)
    assert payment["Id"] not in {t["TxnId"] for t in invoice["LinkedTxn"]}
    _, body = await api.cdc("Invoice,Payment,Customer", since)
    found = _by_entity(body)
    assert [r["Id"] for r in found["Invoice"]] == [invoice_id]
    assert found["Payment"][0]["status"] == "Deleted"
    assert [r["Id"] for r in found["Customer"]] == [payment["CustomerRef"]["value"]]  # its balance moved


async def test_void_keeps_the_id_with_zero_amounts(api: Api, state: SimulatorState) -> None:
    invoice = next(r for r in state.records(REALM, "Invoice") if r["TotalAmt"] and not r["LinkedTxn"])
    since = state.clock.now().isoformat()
    state.void(REALM, "Invoice", invoice["Id"])
    _, body = await api.cdc("Invoice", since)
    (voided,) = _by_entity(body)["Invoice"]
    assert voided["Id"] == invoice["Id"] and voided["TotalAmt"] == 0 and voided["Balance"] == 0
    assert voided["PrivateNote"] == "Voided" and int(voided["SyncToken"]) == int(invoice["SyncToken"]) + 1


async def test_changed_since_more_than_30_days_ago_is_refused(api: Api, state: SimulatorState) -> None:
    status, body = await api.cdc("Invoice", (state.clock.now() - timedelta(days=30, seconds=1)).isoformat())
    assert status == 400
    assert body["Fault"]["type"] == "ValidationFault"
    assert "30 days" in body["Fault"]["Error"][0]["Detail"]
    status, _ = await api.cdc("Invoice", (state.clock.now() - timedelta(days=30)).isoformat())
    assert status == 200


async def test_unknown_entity_and_missing_parameters_are_refused(api: Api, state: SimulatorState) -> None:
    since = state.clock.now().isoformat()
    assert (await api.cdc("Invoice,Nonsense", since))[0] == 400
    assert (await api.get("cdc", {"entities": "Invoice"}))[0] == 400


def _busy_state(selection: str = "oldest", seed: int = 0) -> SimulatorState:
    """1,600 invoices and payments changed in the last 20 days: more than one CDC answer holds."""
    busy = DemoCompany.generate(realm_id=REALM, seed=3, customers=20, invoices=1200, payments=400,
                                history_days=20, as_of="2026-11-01T06:00:00-07:00")
    return SimulatorState(companies=[busy], clock=SimClock(start=START, frozen=True), access_tokens={TOKEN},
                          limits=ThrottleLimits(None, None), cdc_selection=selection, cdc_seed=seed)


async def _full_answer(state: SimulatorState) -> tuple[list[tuple[str, dict]], list[tuple[str, dict]]]:
    """(what a full CDC answer for Invoice,Payment returned, what it left out)."""
    since = (state.clock.now() - timedelta(days=29)).isoformat()
    async with TestClient(TestServer(create_app(state))) as client:
        status, body = await Api(client).cdc("Invoice,Payment", since)
    assert status == 200
    found = _by_entity(body)
    returned = [(e, r) for e in ("Invoice", "Payment") for r in found.get(e, [])]
    ids = {(e, r["Id"]) for e, r in returned}
    left_out = [(e, r) for e in ("Invoice", "Payment") for r in state.records(REALM, e) if (e, r["Id"]) not in ids]
    assert len(returned) == 1000 and left_out
    return returned, left_out


def _times(pairs: list[tuple[str, dict]]) -> list:
    return [parse_instant(r["MetaData"]["LastUpdatedTime"]) for _, r in pairs]


async def test_at_most_1000_objects_oldest_first_across_entities() -> None:
    state = _busy_state()
    returned, left_out = await _full_answer(state)
    assert min(_times(left_out)) >= max(_times(returned))
    # A client that shrinks its window gets the rest.
    since = max(_times(returned)).isoformat()
    async with TestClient(TestServer(create_app(state))) as client:
        _, later = await Api(client).cdc("Invoice,Payment", since)
    again = _by_entity(later)
    assert len(again.get("Invoice", []) + again.get("Payment", [])) >= len(left_out)


async def test_by_entity_fills_the_answer_in_request_order() -> None:
    returned, left_out = await _full_answer(_busy_state("by_entity"))
    # 1,200 invoices changed: the answer is the oldest 1,000 of them and not one payment.
    assert {e for e, _ in returned} == {"Invoice"}
    assert {e for e, _ in left_out} == {"Invoice", "Payment"}
    invoices_left = [(e, r) for e, r in left_out if e == "Invoice"]
    assert min(_times(invoices_left)) >= max(_times(returned))


async def test_newest_keeps_the_latest_changes_and_leaves_out_the_oldest() -> None:
    returned, left_out = await _full_answer(_busy_state("newest"))
    assert max(_times(left_out)) <= min(_times(returned))


async def test_random_is_seeded_and_no_order_holds() -> None:
    first, left_out = await _full_answer(_busy_state("random", seed=4))
    again, _ = await _full_answer(_busy_state("random", seed=4))
    other, _ = await _full_answer(_busy_state("random", seed=5))
    key = [(e, r["Id"]) for e, r in first]
    assert key == [(e, r["Id"]) for e, r in again] and key != [(e, r["Id"]) for e, r in other]
    assert min(_times(left_out)) < max(_times(first)) and max(_times(left_out)) > min(_times(first))


def test_an_unknown_selection_is_refused() -> None:
    with pytest.raises(ValueError, match="oldest, by_entity, newest, random"):
        _busy_state("alphabetical")
