"""The demo company's estimates, credits, refunds, bill payments, deposits, journal entries and currencies:
linked as QBO links them, balanced, and deterministic."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sandbox.quickbooks import DemoCompany
from sandbox.quickbooks.clock import parse_instant

from .conftest import REALM

NEW_TRANSACTIONS = ("Estimate", "CreditMemo", "RefundReceipt", "BillPayment", "VendorCredit", "Deposit",
                    "JournalEntry")


def cents(value: Any) -> int:
    return round(value * 100)


def by_id(company: DemoCompany, entity: str) -> dict[str, dict[str, Any]]:
    return {r["Id"]: r for r in company.records[entity]}


def created(record: dict[str, Any]) -> Any:
    return parse_instant(record["MetaData"]["CreateTime"])


def test_same_seed_gives_identical_new_entities_and_exchange_rates() -> None:
    first = DemoCompany.generate(realm_id=REALM, seed=11, customers=40, invoices=240, payments=180)
    second = DemoCompany.generate(realm_id=REALM, seed=11, customers=40, invoices=240, payments=180)
    for entity in (*NEW_TRANSACTIONS, "TaxCode", "TaxRate", "ExchangeRate"):
        assert first.records[entity], entity
        assert first.records[entity] == second.records[entity], entity


def test_bill_payments_lower_bill_balances_and_are_linked_both_ways(company: DemoCompany) -> None:
    bills = by_id(company, "Bill")
    paid: dict[str, int] = defaultdict(int)
    for payment in company.records["BillPayment"]:
        link_type = {"Check": "BillPaymentCheck", "CreditCard": "BillPaymentCreditCard"}[payment["PayType"]]
        assert ("CheckPayment" in payment) == (payment["PayType"] == "Check")
        assert sum(cents(line["Amount"]) for line in payment["Line"]) == cents(payment["TotalAmt"])
        for line in payment["Line"]:
            (link,) = line["LinkedTxn"]
            bill = bills[link["TxnId"]]
            assert link["TxnType"] == "Bill" and bill["VendorRef"]["value"] == payment["VendorRef"]["value"]
            assert {"TxnId": payment["Id"], "TxnType": link_type} in bill["LinkedTxn"]
            assert created(payment) > created(bill)
            paid[bill["Id"]] += cents(line["Amount"])
    for bill in bills.values():
        assert cents(bill["Balance"]) == cents(bill["TotalAmt"]) - paid[bill["Id"]] >= 0
        assert len(bill["LinkedTxn"]) == len({t["TxnId"] for t in bill["LinkedTxn"]})
    assert any(b["Balance"] == 0 for b in bills.values()) and any(0 < b["Balance"] < b["TotalAmt"]
                                                                 for b in bills.values())


def test_vendor_balance_is_open_bills_minus_open_vendor_credits(company: DemoCompany) -> None:
    owed: dict[str, int] = defaultdict(int)
    for bill in company.records["Bill"]:
        owed[bill["VendorRef"]["value"]] += cents(bill["Balance"])
    for credit in company.records["VendorCredit"]:
        assert credit["Balance"] == credit["TotalAmt"] and credit["LinkedTxn"] == []
        owed[credit["VendorRef"]["value"]] -= cents(credit["Balance"])
    for vendor in company.records["Vendor"]:
        assert cents(vendor["Balance"]) == owed[vendor["Id"]]


def test_journal_entries_balance_debits_with_credits(company: DemoCompany) -> None:
    postings = Counter()
    for entry in company.records["JournalEntry"]:
        sides = {"Debit": 0, "Credit": 0}
        for line in entry["Line"]:
            assert line["DetailType"] == "JournalEntryLineDetail"
            sides[line["JournalEntryLineDetail"]["PostingType"]] += cents(line["Amount"])
            postings[line["JournalEntryLineDetail"]["PostingType"]] += 1
        assert sides["Debit"] == sides["Credit"] == cents(entry["TotalAmt"]) > 0
        assert [line["Id"] for line in entry["Line"]] == [str(n) for n in range(len(entry["Line"]))]
    assert postings["Debit"] and postings["Credit"]


def test_deposits_bank_each_undeposited_payment_or_receipt_at_most_once(company: DemoCompany) -> None:
    sources = {"Payment": by_id(company, "Payment"), "SalesReceipt": by_id(company, "SalesReceipt")}
    undeposited = next(a["Id"] for a in company.records["Account"] if a["Name"] == "Undeposited Funds")
    checking = next(a["Id"] for a in company.records["Account"] if a["Name"] == "Checking")
    seen: set[tuple[str, str]] = set()
    for deposit in company.records["Deposit"]:
        assert deposit["DepositToAccountRef"]["value"] == checking
        assert sum(cents(line["Amount"]) for line in deposit["Line"]) == cents(deposit["TotalAmt"])
        for line in deposit["Line"]:
            if "LinkedTxn" not in line:
                assert line["DetailType"] == "DepositLineDetail" and line["DepositLineDetail"]["AccountRef"]
                continue
            (link,) = line["LinkedTxn"]
            source = sources[link["TxnType"]][link["TxnId"]]
            assert (link["TxnType"], link["TxnId"]) not in seen
            seen.add((link["TxnType"], link["TxnId"]))
            assert source["DepositToAccountRef"]["value"] == undeposited
            assert source["CurrencyRef"]["value"] == "USD" and cents(line["Amount"]) == cents(source["TotalAmt"])
            assert created(deposit) > created(source) and deposit["TxnDate"] >= source["TxnDate"]
    assert {kind for kind, _ in seen} == {"Payment", "SalesReceipt"}


def test_converted_estimates_are_closed_and_linked_with_their_invoice(company: DemoCompany) -> None:
    invoices = by_id(company, "Invoice")
    statuses = Counter(e["TxnStatus"] for e in company.records["Estimate"])
    assert set(statuses) == {"Closed", "Pending", "Accepted", "Rejected"}
    for estimate in company.records["Estimate"]:
        if estimate["TxnStatus"] != "Closed":
            assert estimate["LinkedTxn"] == []
            continue
        (link,) = estimate["LinkedTxn"]
        invoice = invoices[link["TxnId"]]
        assert link["TxnType"] == "Invoice" and {"TxnId": estimate["Id"], "TxnType": "Estimate"} in invoice["LinkedTxn"]
        assert invoice["CustomerRef"] == estimate["CustomerRef"] and invoice["TotalAmt"] == estimate["TotalAmt"]
        assert created(estimate) <= created(invoice) and estimate["TxnDate"] <= invoice["TxnDate"]
        # Closing an estimate moves LastUpdatedTime without a new SyncToken, as the recordings show.
        assert estimate["SyncToken"] == "0"


def test_credit_memos_stay_open_and_refunds_leave_checking(company: DemoCompany) -> None:
    assert all(m["Balance"] == m["RemainingCredit"] == m["TotalAmt"] > 0 for m in company.records["CreditMemo"])
    checking = next(a["Id"] for a in company.records["Account"] if a["Name"] == "Checking")
    for refund in company.records["RefundReceipt"]:
        assert refund["Balance"] == 0 and refund["DepositToAccountRef"]["value"] == checking
        assert refund["CurrencyRef"]["value"] == "USD"


def test_foreign_customers_are_billed_in_their_currency_at_the_days_rate(company: DemoCompany) -> None:
    prefs = company.records["Preferences"][0]["CurrencyPrefs"]
    assert prefs == {"MultiCurrencyEnabled": True, "HomeCurrency": {"value": "USD"}}
    currency = {c["Id"]: c["CurrencyRef"]["value"] for c in company.records["Customer"]}
    assert len({c for c in currency.values() if c != "USD"}) >= 2
    rates = {(r["SourceCurrencyCode"], r["AsOfDate"]): r["Rate"] for r in company.records["ExchangeRate"]}
    foreign = 0
    for entity in ("Invoice", "Payment", "SalesReceipt", "Estimate", "CreditMemo"):
        for record in company.records[entity]:
            code = record["CurrencyRef"]["value"]
            if "CustomerRef" in record:
                assert code == currency[record["CustomerRef"]["value"]], (entity, record["Id"])
            if code == "USD":
                assert record["ExchangeRate"] == 1 and "HomeTotalAmt" not in record
                continue
            foreign += 1
            assert record["ExchangeRate"] == rates[(code, record["TxnDate"])]
            if "HomeTotalAmt" in record:
                assert cents(record["HomeTotalAmt"]) == round(cents(record["TotalAmt"]) * record["ExchangeRate"])
            if "HomeBalance" in record:
                assert cents(record["HomeBalance"]) == round(cents(record["Balance"]) * record["ExchangeRate"])
    assert foreign >= 10
    # Finance.xsd gives these HomeTotalAmt (Payment has none): every foreign one carries it.
    assert all("HomeTotalAmt" in r for entity in ("Invoice", "SalesReceipt", "Estimate", "CreditMemo")
               for r in company.records[entity] if r["CurrencyRef"]["value"] != "USD")
    assert all("HomeTotalAmt" not in r for r in company.records["Payment"])


def test_lines_carry_classes_discounts_and_item_based_expenses(company: DemoCompany) -> None:
    kinds = Counter(line.get("DetailType") for entity in ("Invoice", "Bill", "Purchase", "Deposit")
                    for record in company.records[entity] for line in record["Line"])
    assert {"SalesItemLineDetail", "SubTotalLineDetail", "DiscountLineDetail", "AccountBasedExpenseLineDetail",
            "ItemBasedExpenseLineDetail", "DepositLineDetail"} <= set(kinds)
    classed = [line for r in company.records["Invoice"] for line in r["Line"]
               if "ClassRef" in line.get("SalesItemLineDetail", {})]
    classes = {c["Id"] for c in company.records["Class"] if c["Active"]}
    assert classed and all(line["SalesItemLineDetail"]["ClassRef"]["value"] in classes for line in classed)
    discount = next(line for r in company.records["Invoice"] for line in r["Line"]
                    if line["DetailType"] == "DiscountLineDetail")
    assert discount["DiscountLineDetail"]["PercentBased"] is True
    assert discount["DiscountLineDetail"]["DiscountAccountRef"]["name"] == "Discounts given"


def test_exchange_rates_cover_month_starts_and_every_rate_a_transaction_used(company: DemoCompany) -> None:
    keys = [(r["SourceCurrencyCode"], r["AsOfDate"]) for r in company.records["ExchangeRate"]]
    assert len(keys) == len(set(keys))
    assert {("EUR", "2026-10-01"), ("CAD", "2026-10-01"), ("GBP", "2026-10-01")} <= set(keys)
    assert all(0.5 < r["Rate"] < 2 and r["SyncToken"] == "0" for r in company.records["ExchangeRate"])
