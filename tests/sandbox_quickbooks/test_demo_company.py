"""The demo company: deterministic, internally consistent, and shaped like recorded QBO records."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest

from sandbox.quickbooks import DemoCompany
from sandbox.quickbooks.clock import parse_instant
from sandbox.quickbooks.demo_company import DEFAULT_AS_OF
from sandbox.quickbooks.entities import TRANSACTIONS

from . import reference
from .conftest import REALM

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
# Invoice and SalesReceipt (and the recorded Estimates) are all SalesTransaction in Finance.xsd, so the
# recordings of one stand for the shapes of the others.
SALES = ("Invoice", "SalesReceipt", "Estimate")
SIBLINGS = {"Invoice": SALES, "SalesReceipt": SALES, "Estimate": SALES, "CreditMemo": SALES, "RefundReceipt": SALES}
# Present in every recorded record only because those recordings happen to have them: an invoice of a
# customer without an address or e-mail has no BillAddr/ShipAddr/BillEmail in QBO either.
OPTIONAL = {"Invoice": {"BillAddr", "ShipAddr"}, "Estimate": {"BillAddr", "BillEmail"}}
UNRECORDED = ("Payment", "Bill", "Purchase", "Term", "PaymentMethod", "Class", "Department", "CompanyInfo",
              "Preferences", "BillPayment", "VendorCredit", "Deposit", "JournalEntry", "TaxCode", "TaxRate",
              "ExchangeRate")
# Key sets of Intuit's own reference samples for entities no recording shows (developer.intuit.com,
# "TaxCode", "TaxRate" and "ExchangeRate" pages: query responses).
SAMPLE_KEYS = {
    "ExchangeRate": {"SyncToken", "AsOfDate", "SourceCurrencyCode", "Rate", "TargetCurrencyCode", "MetaData"},
    "TaxRate": {"RateValue", "AgencyRef", "domain", "Name", "SyncToken", "SpecialTaxType", "DisplayType", "sparse",
                "Active", "MetaData", "Id", "Description"},
    "TaxGroup": {"SyncToken", "domain", "TaxGroup", "Name", "Taxable", "PurchaseTaxRateList", "sparse", "Active",
                 "Description", "MetaData", "Id", "SalesTaxRateList"},
    "PseudoTaxCode": {"TaxGroup", "Name", "Taxable", "Description", "Id", "MetaData"},
}
# Lines QBO writes without an Id: its SubTotalLine, and the LinkedTxn-only lines of (bill) payments.
UNNUMBERED = {"Payment", "BillPayment"}


def test_same_seed_gives_byte_identical_companies() -> None:
    first = DemoCompany.generate(realm_id=REALM, seed=7, customers=30, invoices=150, payments=100)
    second = DemoCompany.generate(realm_id=REALM, seed=7, customers=30, invoices=150, payments=100)
    assert first.to_json() == second.to_json()


def test_different_seeds_give_different_companies() -> None:
    first = DemoCompany.generate(realm_id=REALM, seed=7, customers=30, invoices=150, payments=100)
    other = DemoCompany.generate(realm_id=REALM, seed=8, customers=30, invoices=150, payments=100)
    assert first.to_json() != other.to_json()
    # Every requested count is the same; exchange rates follow from the days foreign sales happened.
    first_counts, other_counts = first.counts(), other.counts()
    del first_counts["ExchangeRate"], other_counts["ExchangeRate"]
    assert first_counts == other_counts


def test_requested_counts_are_exact(company: DemoCompany) -> None:
    counts = company.counts()
    assert (counts["Customer"], counts["Invoice"], counts["Payment"]) == (60, 400, 300)
    assert {"Item", "Account", "Vendor", "Employee", "Term", "PaymentMethod", "Class", "Department", "CompanyInfo",
            "SalesReceipt", "Bill", "Purchase", "TaxCode", "TaxRate", "ExchangeRate", *TRANSACTIONS} <= set(counts)
    small = DemoCompany.generate(realm_id=REALM, seed=3, customers=30, invoices=200, payments=150, estimates=17,
                                 credit_memos=9, refund_receipts=4, bill_payments=11, vendor_credits=6, deposits=12,
                                 journal_entries=15)
    assert {e: small.counts()[e] for e in ("Estimate", "CreditMemo", "RefundReceipt", "BillPayment", "VendorCredit",
                                           "Deposit", "JournalEntry")} == {
        "Estimate": 17, "CreditMemo": 9, "RefundReceipt": 4, "BillPayment": 11, "VendorCredit": 6, "Deposit": 12,
        "JournalEntry": 15}


def test_generate_stays_backward_compatible_with_positional_counts() -> None:
    company = DemoCompany.generate(REALM, 5, 20, 100, 60)
    assert (company.counts()["Customer"], company.counts()["Invoice"], company.counts()["Payment"]) == (20, 100, 60)
    assert company.counts()["Estimate"] == 100 // 12 and company.counts()["Deposit"] > 0


def test_timestamps_are_fixed_well_formed_and_in_the_past(company: DemoCompany) -> None:
    end = parse_instant(DEFAULT_AS_OF)
    for rows in company.records.values():
        for row in rows:
            updated = row["MetaData"]["LastUpdatedTime"]
            # QBO's ExchangeRate has only LastUpdatedTime.
            created = row["MetaData"].get("CreateTime", updated)
            assert TIMESTAMP.match(created) and TIMESTAMP.match(updated)
            assert parse_instant(created) <= parse_instant(updated) < end
    offsets = {row["MetaData"]["CreateTime"][-6:] for row in company.records["Invoice"]}
    assert offsets == {"-07:00", "-08:00"}  # Pacific time with daylight saving, as QBO writes it


@pytest.mark.parametrize("seed", [1, 3, 7])
def test_history_ending_just_after_a_daylight_saving_change_stays_consistent(seed: int) -> None:
    # The default history ends hours after US clocks go back (2026-11-01); wall-clock arithmetic
    # there once pushed records past the end of the history and payments before their invoices.
    company = DemoCompany.generate(realm_id=REALM, seed=seed, customers=30, invoices=300, payments=250,
                                   history_days=3)
    end = parse_instant(DEFAULT_AS_OF)
    created = {r["Id"]: parse_instant(r["MetaData"]["CreateTime"]) for r in company.records["Invoice"]}
    for rows in company.records.values():
        for row in rows:
            meta = row["MetaData"]
            assert parse_instant(meta.get("CreateTime", meta["LastUpdatedTime"])) <= \
                parse_instant(meta["LastUpdatedTime"]) < end
    assert all(parse_instant(t.deleted_at) < end for t in company.deleted)
    for payment in company.records["Payment"]:
        for line in payment["Line"]:
            assert parse_instant(payment["MetaData"]["CreateTime"]) > created[line["LinkedTxn"][0]["TxnId"]]


def test_ids_are_numeric_unique_and_transactions_share_one_counter(company: DemoCompany) -> None:
    txn_ids: list[int] = []
    for entity in TRANSACTIONS:
        txn_ids += [int(r["Id"]) for r in company.records[entity]]
    txn_ids += [int(t.id) for t in company.deleted]
    assert len(txn_ids) == len(set(txn_ids))
    assert sorted(txn_ids) == list(range(1, len(txn_ids) + 1))


def test_some_list_rows_are_inactive_with_deleted_suffix(company: DemoCompany) -> None:
    for entity in ("Customer", "Vendor", "Item", "Account", "Employee", "Term", "PaymentMethod", "Class",
                   "Department", "TaxCode", "TaxRate"):
        inactive = [r for r in company.records[entity] if r.get("Active") is False]  # TAX/NON have no flag
        assert inactive, entity
    assert all(r["DisplayName"].endswith(" (deleted)") for r in company.records["Customer"] if not r["Active"])


def test_invoice_balances_agree_with_the_payments_applied(company: DemoCompany) -> None:
    applied: dict[str, int] = defaultdict(int)
    linked: dict[str, set[str]] = defaultdict(set)
    for payment in company.records["Payment"]:
        lines = sum(round(line["Amount"] * 100) for line in payment["Line"])
        assert lines + round(payment["UnappliedAmt"] * 100) == round(payment["TotalAmt"] * 100)
        for line in payment["Line"]:
            invoice_id = line["LinkedTxn"][0]["TxnId"]
            applied[invoice_id] += round(line["Amount"] * 100)
            linked[invoice_id].add(payment["Id"])
    for invoice in company.records["Invoice"]:
        total = round(invoice["TotalAmt"] * 100)
        assert round(invoice["Balance"] * 100) == total - applied[invoice["Id"]]
        assert {t["TxnId"] for t in invoice["LinkedTxn"] if t["TxnType"] == "Payment"} == linked[invoice["Id"]]
        items = sum(round(line["Amount"] * 100) for line in invoice["Line"]
                    if line["DetailType"] == "SalesItemLineDetail")
        discounts = sum(round(line["Amount"] * 100) for line in invoice["Line"]
                        if line["DetailType"] == "DiscountLineDetail")
        assert items - discounts == total
    assert any(r["Balance"] == 0 and r["TotalAmt"] for r in company.records["Invoice"])
    assert any(0 < r["Balance"] < r["TotalAmt"] for r in company.records["Invoice"])


def test_customer_balance_is_open_invoices_minus_unapplied_credit(company: DemoCompany) -> None:
    owed: dict[str, int] = defaultdict(int)
    for invoice in company.records["Invoice"]:
        owed[invoice["CustomerRef"]["value"]] += round(invoice["Balance"] * 100)
    for payment in company.records["Payment"]:
        owed[payment["CustomerRef"]["value"]] -= round(payment["UnappliedAmt"] * 100)
    for memo in company.records["CreditMemo"]:
        owed[memo["CustomerRef"]["value"]] -= round(memo["Balance"] * 100)
    for customer in company.records["Customer"]:
        assert round(customer["Balance"] * 100) == owed[customer["Id"]]


def test_history_includes_voids_and_hard_deletes_for_cdc(company: DemoCompany) -> None:
    voided = [r for r in company.records["Invoice"] if r.get("PrivateNote") == "Voided"]
    assert voided and all(r["TotalAmt"] == 0 and r["Balance"] == 0 for r in voided)
    assert company.deleted and all(t.entity == "Invoice" for t in company.deleted)
    live = {r["Id"] for r in company.records["Invoice"]}
    assert not live & {t.id for t in company.deleted}


def _assert_declared(entity: str, path: str, types: set[str]) -> None:
    declared = reference.xsd_json_types(entity, path)
    assert declared is not None, (entity, path, "not declared in Finance.xsd")
    assert types <= declared, (entity, path, types, declared)


@pytest.mark.parametrize("entity", ["Customer", "Vendor", "Employee", "Item", "Account", "Invoice", "SalesReceipt",
                                    "Estimate", "CreditMemo", "RefundReceipt"])
def test_generated_records_have_the_recorded_shape(company: DemoCompany, entity: str) -> None:
    recorded = reference.recorded_records()
    own = recorded.get(entity, [])
    known: dict[str, set[str]] = defaultdict(set)
    for sibling in SIBLINGS.get(entity, (entity,)):
        for path, types in reference.flatten_all(recorded[sibling]).items():
            known[path] |= types
    required = set.intersection(*(set(r) for r in own)) - OPTIONAL.get(entity, set()) if own else set()
    assert company.records[entity]
    for record in company.records[entity]:
        assert required <= set(record), (entity, record["Id"], required - set(record))
        for path, types in reference.flatten(record).items():
            if path in known:
                assert types <= known[path], (entity, path, types, known[path])
            else:
                # A path no recording shows must be one Finance.xsd declares, with a JSON type it allows.
                _assert_declared(entity, path, types)


@pytest.mark.parametrize("entity", UNRECORDED)
def test_unrecorded_entities_use_only_paths_declared_in_the_xsd(company: DemoCompany, entity: str) -> None:
    assert reference.xsd_fields(entity), entity
    assert company.records[entity]
    for path, types in reference.flatten_all(company.records[entity]).items():
        _assert_declared(entity, path, types)


def test_tax_and_exchange_rate_records_have_the_keys_of_intuits_samples(company: DemoCompany) -> None:
    for rate in company.records["ExchangeRate"]:
        assert set(rate) == SAMPLE_KEYS["ExchangeRate"] and set(rate["MetaData"]) == {"LastUpdatedTime"}
        assert rate["TargetCurrencyCode"] == "USD" and rate["SourceCurrencyCode"] in ("EUR", "CAD", "GBP")
    assert all(set(r) == SAMPLE_KEYS["TaxRate"] for r in company.records["TaxRate"])
    codes = {c["Id"]: c for c in company.records["TaxCode"]}
    assert set(codes["TAX"]) == set(codes["NON"]) == SAMPLE_KEYS["PseudoTaxCode"]
    groups = [c for c in codes.values() if c["TaxGroup"]]
    assert groups and all(set(c) == SAMPLE_KEYS["TaxGroup"] for c in groups)
    rate_ids = {r["Id"] for r in company.records["TaxRate"]}
    assert all(d["TaxRateRef"]["value"] in rate_ids for c in groups for d in c["SalesTaxRateList"]["TaxRateDetail"])


def test_transaction_lines_can_be_keyed_by_transaction_and_line_id(company: DemoCompany) -> None:
    for entity in TRANSACTIONS:
        for record in company.records[entity]:
            ids = []
            for line in record["Line"]:
                if "DetailType" in line:
                    assert line["DetailType"] in line, (entity, record["Id"], line)
                if line.get("DetailType") == "SubTotalLineDetail" or entity in UNNUMBERED:
                    assert "Id" not in line  # as QBO writes them
                    continue
                assert isinstance(line["Amount"], int | float) and "Id" in line, (entity, record["Id"], line)
                ids.append(line["Id"])
            assert len(ids) == len(set(ids)), (entity, record["Id"])


def test_metadata_timestamps_look_like_the_recorded_ones(company: DemoCompany) -> None:
    recorded: list[dict[str, Any]] = reference.recorded_records()["Customer"]
    assert all(TIMESTAMP.match(r["MetaData"]["LastUpdatedTime"]) for r in recorded)
    assert all(isinstance(r["SyncToken"], str) for r in company.records["Invoice"])
    assert all(isinstance(r["TotalAmt"], int | float) and not isinstance(r["TotalAmt"], bool)
               for r in company.records["Invoice"])
