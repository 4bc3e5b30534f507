"""The demo company: deterministic, internally consistent, and shaped like recorded QBO records."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest

from sandbox.quickbooks import DemoCompany
from sandbox.quickbooks.clock import parse_instant
from sandbox.quickbooks.demo_company import DEFAULT_AS_OF

from . import reference
from .conftest import REALM

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
# Invoice and SalesReceipt (and the recorded Estimates) are all SalesTransaction in Finance.xsd, so the
# recordings of one stand for the shapes of the others.
SIBLINGS = {"Invoice": ("Invoice", "SalesReceipt", "Estimate"), "SalesReceipt": ("Invoice", "SalesReceipt", "Estimate")}
# Present in every recorded record only because those recordings happen to have them: an invoice of a
# customer without an address has no BillAddr/ShipAddr in QBO either.
OPTIONAL = {"Invoice": {"BillAddr", "ShipAddr"}}
UNRECORDED = ("Payment", "Bill", "Purchase", "Term", "PaymentMethod", "Class", "Department", "CompanyInfo",
              "Preferences")

needs_reference = pytest.mark.skipif(not reference.available(), reason="shared/reference/quickbooks not found")


def test_same_seed_gives_byte_identical_companies() -> None:
    first = DemoCompany.generate(realm_id=REALM, seed=7, customers=30, invoices=150, payments=100)
    second = DemoCompany.generate(realm_id=REALM, seed=7, customers=30, invoices=150, payments=100)
    assert first.to_json() == second.to_json()


def test_different_seeds_give_different_companies() -> None:
    first = DemoCompany.generate(realm_id=REALM, seed=7, customers=30, invoices=150, payments=100)
    other = DemoCompany.generate(realm_id=REALM, seed=8, customers=30, invoices=150, payments=100)
    assert first.to_json() != other.to_json()
    assert first.counts() == other.counts()


def test_requested_counts_are_exact(company: DemoCompany) -> None:
    counts = company.counts()
    assert (counts["Customer"], counts["Invoice"], counts["Payment"]) == (60, 400, 300)
    assert {"Item", "Account", "Vendor", "Employee", "Term", "PaymentMethod", "Class", "Department", "CompanyInfo",
            "SalesReceipt", "Bill", "Purchase"} <= set(counts)


def test_timestamps_are_fixed_well_formed_and_in_the_past(company: DemoCompany) -> None:
    end = parse_instant(DEFAULT_AS_OF)
    for rows in company.records.values():
        for row in rows:
            created, updated = row["MetaData"]["CreateTime"], row["MetaData"]["LastUpdatedTime"]
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
            assert parse_instant(meta["CreateTime"]) <= parse_instant(meta["LastUpdatedTime"]) < end
    assert all(parse_instant(t.deleted_at) < end for t in company.deleted)
    for payment in company.records["Payment"]:
        for line in payment["Line"]:
            assert parse_instant(payment["MetaData"]["CreateTime"]) > created[line["LinkedTxn"][0]["TxnId"]]


def test_ids_are_numeric_unique_and_transactions_share_one_counter(company: DemoCompany) -> None:
    txn_ids: list[int] = []
    for entity in ("Invoice", "Payment", "SalesReceipt", "Bill", "Purchase"):
        txn_ids += [int(r["Id"]) for r in company.records[entity]]
    txn_ids += [int(t.id) for t in company.deleted]
    assert len(txn_ids) == len(set(txn_ids))
    assert sorted(txn_ids) == list(range(1, len(txn_ids) + 1))


def test_some_list_rows_are_inactive_with_deleted_suffix(company: DemoCompany) -> None:
    for entity in ("Customer", "Vendor", "Item", "Account", "Employee", "Term", "PaymentMethod", "Class",
                   "Department"):
        inactive = [r for r in company.records[entity] if not r["Active"]]
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
        assert {t["TxnId"] for t in invoice["LinkedTxn"]} == linked[invoice["Id"]]
        lines = [line for line in invoice["Line"] if line["DetailType"] != "SubTotalLineDetail"]
        assert sum(round(line["Amount"] * 100) for line in lines) == total
    assert any(r["Balance"] == 0 and r["TotalAmt"] for r in company.records["Invoice"])
    assert any(0 < r["Balance"] < r["TotalAmt"] for r in company.records["Invoice"])


def test_customer_balance_is_open_invoices_minus_unapplied_credit(company: DemoCompany) -> None:
    owed: dict[str, int] = defaultdict(int)
    for invoice in company.records["Invoice"]:
        owed[invoice["CustomerRef"]["value"]] += round(invoice["Balance"] * 100)
    for payment in company.records["Payment"]:
        owed[payment["CustomerRef"]["value"]] -= round(payment["UnappliedAmt"] * 100)
    for customer in company.records["Customer"]:
        assert round(customer["Balance"] * 100) == owed[customer["Id"]]


def test_history_includes_voids_and_hard_deletes_for_cdc(company: DemoCompany) -> None:
    voided = [r for r in company.records["Invoice"] if r.get("PrivateNote") == "Voided"]
    assert voided and all(r["TotalAmt"] == 0 and r["Balance"] == 0 for r in voided)
    assert company.deleted and all(t.entity == "Invoice" for t in company.deleted)
    live = {r["Id"] for r in company.records["Invoice"]}
    assert not live & {t.id for t in company.deleted}


@needs_reference
@pytest.mark.parametrize("entity", ["Customer", "Vendor", "Employee", "Item", "Account", "Invoice", "SalesReceipt"])
def test_generated_records_have_the_recorded_shape(company: DemoCompany, entity: str) -> None:
    recorded = reference.recorded_records()
    own = recorded[entity]
    known: dict[str, set[str]] = defaultdict(set)
    for sibling in SIBLINGS.get(entity, (entity,)):
        for path, types in reference.flatten_all(recorded[sibling]).items():
            known[path] |= types
    allowed_extra = reference.xsd_fields(entity)
    required = set.intersection(*(set(r) for r in own)) - OPTIONAL.get(entity, set())
    for record in company.records[entity]:
        assert required <= set(record), (entity, record["Id"], required - set(record))
        for path, types in reference.flatten(record).items():
            top = path.split(".")[0].split("[")[0]
            if path in known:
                assert types <= known[path], (entity, path, types, known[path])
            else:
                # A field the recordings never show must at least be one Finance.xsd declares.
                assert top not in known and top in allowed_extra, (entity, path)


@needs_reference
@pytest.mark.parametrize("entity", UNRECORDED)
def test_unrecorded_entities_use_only_fields_declared_in_the_xsd(company: DemoCompany, entity: str) -> None:
    declared = reference.xsd_fields(entity)
    assert declared, entity
    for record in company.records[entity]:
        assert set(record) <= declared, (entity, set(record) - declared)


@needs_reference
def test_metadata_timestamps_look_like_the_recorded_ones(company: DemoCompany) -> None:
    recorded: list[dict[str, Any]] = reference.recorded_records()["Customer"]
    assert all(TIMESTAMP.match(r["MetaData"]["LastUpdatedTime"]) for r in recorded)
    assert all(isinstance(r["SyncToken"], str) for r in company.records["Invoice"])
    assert all(isinstance(r["TotalAmt"], int | float) and not isinstance(r["TotalAmt"], bool)
               for r in company.records["Invoice"])
