"""The in-process mutation API: what tests use to change the company between syncs."""

from __future__ import annotations

import pytest

from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState
from sandbox.quickbooks.clock import parse_instant

from .conftest import REALM, START, TOKEN, Api


def _first(state: SimulatorState, entity: str) -> dict:
    return min(state.records(REALM, entity), key=lambda r: int(r["Id"]))


def test_update_bumps_sync_token_and_stamps_increasing_distinct_times(state: SimulatorState) -> None:
    invoice = _first(state, "Invoice")
    start = state.clock.now()
    stamps = []
    for n in range(3):
        updated = state.update(REALM, "Invoice", invoice["Id"], {"TotalAmt": 10.0 + n})
        stamps.append(parse_instant(updated["MetaData"]["LastUpdatedTime"]))
        assert updated["SyncToken"] == str(int(invoice["SyncToken"]) + n + 1)
        assert updated["TotalAmt"] == 10.0 + n
    assert start < stamps[0] < stamps[1] < stamps[2] <= state.clock.now()
    assert state.get(REALM, "Invoice", invoice["Id"])["MetaData"]["CreateTime"] == invoice["MetaData"]["CreateTime"]


def test_running_clock_still_gives_distinct_second_stamps(company: DemoCompany) -> None:
    state = SimulatorState(companies=[company], clock=SimClock(start=START), access_tokens={TOKEN})
    invoice = _first(state, "Invoice")
    stamps = [state.update(REALM, "Invoice", invoice["Id"], {"PrivateNote": str(n)})["MetaData"]["LastUpdatedTime"]
              for n in range(5)]
    assert len(set(stamps)) == 5 and stamps == sorted(stamps, key=parse_instant)


def test_update_refuses_fields_the_service_owns(state: SimulatorState) -> None:
    with pytest.raises(ValueError):
        state.update(REALM, "Invoice", _first(state, "Invoice")["Id"], {"SyncToken": "9"})
    with pytest.raises(KeyError):
        state.update(REALM, "Invoice", "999999", {"PrivateNote": "x"})
    with pytest.raises(KeyError):
        state.update("no-such-realm", "Invoice", "1", {})


async def test_created_customer_gets_qbo_defaults_and_is_queryable(state: SimulatorState, api: Api) -> None:
    ident = state.create(REALM, "Customer", {"DisplayName": "Brand New Bakery"})
    names = [*state.records(REALM, "Customer"), *state.records(REALM, "Vendor"), *state.records(REALM, "Employee")]
    assert int(ident) == max(int(r["Id"]) for r in names)  # the shared name-list counter
    rows = await api.rows(f"SELECT * FROM Customer WHERE Id = '{ident}'", "Customer")
    assert rows[0]["Active"] is True and rows[0]["SyncToken"] == "0" and rows[0]["Balance"] == 0
    assert rows[0]["MetaData"]["CreateTime"] == rows[0]["MetaData"]["LastUpdatedTime"]
    with pytest.raises(ValueError):
        state.create(REALM, "Customer", {"DisplayName": "brand new bakery"})


def test_invoice_and_payment_creation_move_balances(state: SimulatorState) -> None:
    customer = next(c for c in state.records(REALM, "Customer") if c["Active"])
    before = round(customer["Balance"] * 100)
    invoice_id = state.create(REALM, "Invoice", {
        "CustomerRef": {"value": customer["Id"]},
        "Line": [{"Amount": 250.0, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": "1", "name": "Services"}}}]})
    invoice = state.get(REALM, "Invoice", invoice_id)
    assert (invoice["TotalAmt"], invoice["Balance"], invoice["CustomerRef"]["name"]) == (250.0, 250.0,
                                                                                         customer["DisplayName"])
    assert invoice["Line"][-1]["DetailType"] == "SubTotalLineDetail"
    assert round(state.get(REALM, "Customer", customer["Id"])["Balance"] * 100) == before + 25000
    payment_id = state.create(REALM, "Payment", {
        "CustomerRef": {"value": customer["Id"]}, "TotalAmt": 100.0,
        "Line": [{"Amount": 100.0, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}]})
    invoice = state.get(REALM, "Invoice", invoice_id)
    assert invoice["Balance"] == 150.0 and invoice["SyncToken"] == "1"
    assert invoice["LinkedTxn"] == [{"TxnId": payment_id, "TxnType": "Payment"}]
    assert round(state.get(REALM, "Customer", customer["Id"])["Balance"] * 100) == before + 15000
    state.void(REALM, "Payment", payment_id)
    assert state.get(REALM, "Invoice", invoice_id)["Balance"] == 250.0
    assert state.get(REALM, "Payment", payment_id)["TotalAmt"] == 0


def test_deleting_a_list_entity_makes_it_inactive(state: SimulatorState) -> None:
    vendor = next(v for v in state.records(REALM, "Vendor") if v["Active"])
    state.delete(REALM, "Vendor", vendor["Id"])
    after = state.get(REALM, "Vendor", vendor["Id"])
    assert after["Active"] is False and after["DisplayName"] == vendor["DisplayName"] + " (deleted)"
    with pytest.raises(ValueError):
        state.void(REALM, "Vendor", vendor["Id"])


def test_company_passed_in_is_never_changed(state: SimulatorState, company: DemoCompany) -> None:
    before = company.to_json()
    state.update(REALM, "Invoice", _first(state, "Invoice")["Id"], {"TotalAmt": 1.0})
    state.delete(REALM, "Invoice", _first(state, "Invoice")["Id"])
    assert company.to_json() == before
