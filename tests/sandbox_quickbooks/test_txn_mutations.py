"""Creating, voiding and deleting the added transaction types, with the side effects QBO applies."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.quickbooks import SimulatorState

from .conftest import REALM


def cents(value: Any) -> int:
    return round(value * 100)


def _customer(state: SimulatorState, currency: str = "USD") -> dict[str, Any]:
    return next(c for c in state.records(REALM, "Customer")
                if c["Active"] and c["CurrencyRef"]["value"] == currency and not c["Job"])


def _vendor(state: SimulatorState) -> dict[str, Any]:
    return next(v for v in state.records(REALM, "Vendor") if v["Active"])


def _account(state: SimulatorState, name: str) -> dict[str, str]:
    account = next(a for a in state.records(REALM, "Account") if a["Name"] == name)
    return {"value": account["Id"], "name": account["Name"]}


def _sales_line(amount: float) -> dict[str, Any]:
    return {"Amount": amount, "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": "1", "name": "Services"}, "TaxCodeRef": {"value": "NON"}}}


def _expense_line(state: SimulatorState, amount: float) -> dict[str, Any]:
    return {"Amount": amount, "DetailType": "AccountBasedExpenseLineDetail",
            "AccountBasedExpenseLineDetail": {"AccountRef": _account(state, "Utilities")}}


@pytest.mark.parametrize("entity", ["CreditMemo", "RefundReceipt"])
def test_voiding_a_credit_memo_or_refund_zeroes_amounts_like_an_invoice_void(state: SimulatorState,
                                                                             entity: str) -> None:
    record = next(r for r in state.records(REALM, entity) if r["TotalAmt"])
    customer_id = record["CustomerRef"]["value"]
    before = cents(state.get(REALM, "Customer", customer_id)["Balance"])
    voided = state.void(REALM, entity, record["Id"])
    assert voided["Id"] == record["Id"] and voided["TotalAmt"] == 0 and voided["Balance"] == 0
    assert voided["PrivateNote"] == "Voided" and int(voided["SyncToken"]) == int(record["SyncToken"]) + 1
    assert all(line["Amount"] == 0 for line in voided["Line"]) and len(voided["Line"]) == len(record["Line"])
    after = cents(state.get(REALM, "Customer", customer_id)["Balance"])
    # An open credit memo lowered what the customer owes; voiding it gives that back.
    assert after == before + (cents(record["Balance"]) if entity == "CreditMemo" else 0)
    if entity == "CreditMemo":
        assert voided["RemainingCredit"] == 0


def test_created_credit_memo_gets_sales_defaults_and_lowers_the_customer_balance(state: SimulatorState) -> None:
    customer = _customer(state)
    ident = state.create(REALM, "CreditMemo", {"CustomerRef": {"value": customer["Id"]}, "Line": [_sales_line(40.0)]})
    memo = state.get(REALM, "CreditMemo", ident)
    assert (memo["TotalAmt"], memo["Balance"], memo["RemainingCredit"], memo["ExchangeRate"]) == (40.0, 40.0, 40.0, 1)
    assert memo["Line"][0]["Id"] == "1" and memo["Line"][-1]["DetailType"] == "SubTotalLineDetail"
    numbers = [int(r["DocNumber"]) for e in ("Invoice", "SalesReceipt", "CreditMemo", "RefundReceipt")
               for r in state.records(REALM, e)]
    assert int(memo["DocNumber"]) == max(numbers)
    assert cents(state.get(REALM, "Customer", customer["Id"])["Balance"]) == cents(customer["Balance"]) - 4000


def test_bill_payment_links_both_ways_and_void_or_delete_undoes_it(state: SimulatorState) -> None:
    vendor = _vendor(state)
    bill_id = state.create(REALM, "Bill", {"VendorRef": {"value": vendor["Id"]}, "Line": [_expense_line(state, 300.0)]})
    owed = cents(state.get(REALM, "Vendor", vendor["Id"])["Balance"])
    body = {"VendorRef": {"value": vendor["Id"]}, "PayType": "Check",
            "Line": [{"Amount": 120.0, "LinkedTxn": [{"TxnId": bill_id, "TxnType": "Bill"}]}]}
    payment_id = state.create(REALM, "BillPayment", body)
    payment, bill = state.get(REALM, "BillPayment", payment_id), state.get(REALM, "Bill", bill_id)
    assert payment["TotalAmt"] == 120.0 and payment["CheckPayment"]["BankAccountRef"] == _account(state, "Checking")
    assert "Id" not in payment["Line"][0]  # bill payment lines carry no Id in QBO
    assert bill["Balance"] == 180.0 and bill["LinkedTxn"] == [{"TxnId": payment_id, "TxnType": "BillPaymentCheck"}]
    assert cents(state.get(REALM, "Vendor", vendor["Id"])["Balance"]) == owed - 12000
    with pytest.raises(ValueError):  # QBO refuses to pay more than a bill has open
        state.create(REALM, "BillPayment", {**body, "Line": [{**body["Line"][0], "Amount": 500.0}]})

    voided = state.void(REALM, "BillPayment", payment_id)
    assert voided["TotalAmt"] == 0 and voided["Line"] == [] and voided["PrivateNote"] == "Voided"
    bill = state.get(REALM, "Bill", bill_id)
    assert bill["Balance"] == 300.0 and bill["LinkedTxn"] == []
    assert cents(state.get(REALM, "Vendor", vendor["Id"])["Balance"]) == owed

    card_id = state.create(REALM, "BillPayment", {**body, "PayType": "CreditCard"})
    assert state.get(REALM, "Bill", bill_id)["LinkedTxn"] == [{"TxnId": card_id, "TxnType": "BillPaymentCreditCard"}]
    state.delete(REALM, "BillPayment", card_id)
    assert state.get(REALM, "Bill", bill_id)["Balance"] == 300.0


def test_deleting_a_paid_bill_detaches_its_bill_payment_lines(state: SimulatorState) -> None:
    payment = next(p for p in state.records(REALM, "BillPayment") if len(p["Line"]) == 1)
    bill_id = payment["Line"][0]["LinkedTxn"][0]["TxnId"]
    state.delete(REALM, "Bill", bill_id)
    after = state.get(REALM, "BillPayment", payment["Id"])
    assert after["Line"] == [] and after["TotalAmt"] == payment["TotalAmt"]  # the money is now vendor credit
    assert int(after["SyncToken"]) == int(payment["SyncToken"]) + 1


def test_vendor_credit_lowers_and_its_delete_restores_the_vendor_balance(state: SimulatorState) -> None:
    vendor = _vendor(state)
    before = cents(vendor["Balance"])
    ident = state.create(REALM, "VendorCredit", {"VendorRef": {"value": vendor["Id"]},
                                                 "Line": [_expense_line(state, 25.5)]})
    credit = state.get(REALM, "VendorCredit", ident)
    assert credit["Balance"] == credit["TotalAmt"] == 25.5 and credit["Line"][0]["LineNum"] == 1
    assert cents(state.get(REALM, "Vendor", vendor["Id"])["Balance"]) == before - 2550
    with pytest.raises(ValueError):
        state.void(REALM, "VendorCredit", ident)
    state.delete(REALM, "VendorCredit", ident)
    assert cents(state.get(REALM, "Vendor", vendor["Id"])["Balance"]) == before


def test_journal_entry_must_balance_and_numbers_its_lines_from_zero(state: SimulatorState) -> None:
    def line(amount: float, posting: str, account: str) -> dict[str, Any]:
        return {"Amount": amount, "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": {"PostingType": posting, "AccountRef": _account(state, account)}}

    with pytest.raises(ValueError, match="balance"):
        state.create(REALM, "JournalEntry", {"Line": [line(10.0, "Debit", "Utilities"),
                                                      line(9.99, "Credit", "Checking")]})
    ident = state.create(REALM, "JournalEntry", {"Line": [line(10.0, "Debit", "Utilities"),
                                                          line(10.0, "Credit", "Checking")]})
    entry = state.get(REALM, "JournalEntry", ident)
    assert [ln["Id"] for ln in entry["Line"]] == ["0", "1"] and entry["TotalAmt"] == 10.0
    assert entry["Adjustment"] is False and "LineNum" not in entry["Line"][0]
    with pytest.raises(ValueError):
        state.void(REALM, "JournalEntry", ident)


def test_deposit_links_existing_payments_only(state: SimulatorState) -> None:
    payment = next(p for p in state.records(REALM, "Payment") if p["CurrencyRef"]["value"] == "USD")
    ident = state.create(REALM, "Deposit", {"Line": [
        {"Amount": payment["TotalAmt"], "LinkedTxn": [{"TxnId": payment["Id"], "TxnType": "Payment"}]},
        {"Amount": 5.0, "DetailType": "DepositLineDetail",
         "DepositLineDetail": {"AccountRef": _account(state, "Interest Earned")}}]})
    deposit = state.get(REALM, "Deposit", ident)
    assert cents(deposit["TotalAmt"]) == cents(payment["TotalAmt"]) + 500
    assert [ln["Id"] for ln in deposit["Line"]] == ["1", "2"]
    assert deposit["DepositToAccountRef"] == _account(state, "Checking")
    with pytest.raises(ValueError):
        state.create(REALM, "Deposit", {"Line": [{"Amount": 1.0, "LinkedTxn": [{"TxnId": "999999",
                                                                                "TxnType": "Payment"}]}]})


def test_invoice_from_an_estimate_closes_it_and_deleting_the_invoice_reopens_it(state: SimulatorState) -> None:
    customer = _customer(state)
    estimate_id = state.create(REALM, "Estimate", {"CustomerRef": {"value": customer["Id"]},
                                                   "Line": [_sales_line(90.0)]})
    estimate = state.get(REALM, "Estimate", estimate_id)
    assert estimate["TxnStatus"] == "Pending" and estimate["LinkedTxn"] == []
    invoice_id = state.create(REALM, "Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [_sales_line(90.0)],
                                                 "LinkedTxn": [{"TxnId": estimate_id, "TxnType": "Estimate"}]})
    estimate = state.get(REALM, "Estimate", estimate_id)
    assert estimate["TxnStatus"] == "Closed" and estimate["LinkedTxn"] == [{"TxnId": invoice_id, "TxnType": "Invoice"}]
    assert estimate["SyncToken"] == "0"
    state.delete(REALM, "Invoice", invoice_id)
    estimate = state.get(REALM, "Estimate", estimate_id)
    assert estimate["TxnStatus"] == "Pending" and estimate["LinkedTxn"] == []


def test_foreign_invoice_takes_the_days_rate_and_home_amounts(state: SimulatorState) -> None:
    customer = _customer(state, currency="EUR")
    assert state.get(REALM, "ExchangeRate", "EUR:2026-11-03") is None
    key = state.create(REALM, "ExchangeRate", {"SourceCurrencyCode": "EUR", "AsOfDate": "2026-11-03", "Rate": 1.25})
    assert key == "EUR:2026-11-03" and state.get(REALM, "ExchangeRate", key)["SyncToken"] == "0"
    invoice_id = state.create(REALM, "Invoice", {"CustomerRef": {"value": customer["Id"]}, "TxnDate": "2026-11-03",
                                                 "Line": [_sales_line(100.0)]})
    invoice = state.get(REALM, "Invoice", invoice_id)
    assert invoice["CurrencyRef"] == {"value": "EUR", "name": "Euro"}
    assert (invoice["ExchangeRate"], invoice["HomeTotalAmt"], invoice["HomeBalance"]) == (1.25, 125.0, 125.0)
    state.create(REALM, "Payment", {"CustomerRef": {"value": customer["Id"]},
                                    "Line": [{"Amount": 40.0, "LinkedTxn": [{"TxnId": invoice_id,
                                                                             "TxnType": "Invoice"}]}]})
    invoice = state.get(REALM, "Invoice", invoice_id)
    assert (invoice["Balance"], invoice["HomeBalance"]) == (60.0, 75.0)
    # A second rate for the same currency and day replaces the first.
    state.create(REALM, "ExchangeRate", {"SourceCurrencyCode": "EUR", "AsOfDate": "2026-11-03", "Rate": 1.3})
    assert state.get(REALM, "ExchangeRate", key)["SyncToken"] == "1"
    assert state.get(REALM, "ExchangeRate", key)["Rate"] == 1.3
    with pytest.raises(ValueError):
        state.create(REALM, "ExchangeRate", {"SourceCurrencyCode": "USD", "AsOfDate": "2026-11-01", "Rate": 1})
    with pytest.raises(ValueError):
        state.delete(REALM, "ExchangeRate", key)


def test_deleting_a_tax_code_makes_it_inactive(state: SimulatorState) -> None:
    code = next(c for c in state.records(REALM, "TaxCode") if c.get("Active") is True)
    state.delete(REALM, "TaxCode", code["Id"])
    after = state.get(REALM, "TaxCode", code["Id"])
    assert after["Active"] is False and after["Name"] == code["Name"] + " (deleted)"
    assert after["SyncToken"] == str(int(code["SyncToken"]) + 1)
