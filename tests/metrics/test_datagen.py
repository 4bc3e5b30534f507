"""The demo data generator: deterministic by seed, sized by one number, seasonal and growing, and made of
records the QuickBooks plugin reads without complaint."""

from __future__ import annotations

import collections
import hashlib
from pathlib import Path

from plugins.quickbooks.plugin import QuickBooksPlugin
from sandbox.quickbooks import SimulatorState
from sandbox.quickbooks.datagen import generate_company


def _digest(company) -> str:
    return hashlib.sha256(company.to_json().encode()).hexdigest()


def test_the_same_seed_and_size_give_the_same_company_and_another_seed_does_not():
    assert _digest(generate_company("1", seed=4, records=600)) == _digest(generate_company("1", seed=4, records=600))
    assert _digest(generate_company("1", seed=5, records=600)) != _digest(generate_company("1", seed=4, records=600))


def test_size_follows_the_records_parameter():
    for records in (300, 3000):
        company = generate_company("1", seed=2, records=records, years=2)
        counts = company.counts()
        transactions = sum(counts[e] for e in ("Invoice", "Payment", "SalesReceipt", "CreditMemo", "RefundReceipt",
                                               "Bill", "BillPayment", "Purchase"))
        assert 0.85 * records <= transactions <= 1.15 * records, counts


def test_activity_is_seasonal_and_grows_year_over_year():
    company = generate_company("1", seed=3, records=8000, years=3)
    by_month = collections.Counter(r["TxnDate"][:7] for r in company.records["Invoice"])
    summer = sum(v for k, v in by_month.items() if k[5:] in ("05", "06", "07"))
    winter = sum(v for k, v in by_month.items() if k[5:] in ("12", "01", "02"))
    assert summer > 2 * winter
    assert sum(v for k, v in by_month.items() if k.startswith("2026")) > sum(
        v for k, v in by_month.items() if k.startswith("2024"))


def test_every_record_parses_and_the_simulator_serves_it_with_voids_and_deletes():
    company = generate_company("9130350000000123", seed=8, records=1200, years=2)
    plugin = QuickBooksPlugin()
    for entity in ("Customer", "Invoice", "Payment", "SalesReceipt", "CreditMemo", "RefundReceipt", "Bill",
                   "BillPayment", "Purchase"):
        for record in company.records[entity]:
            raw = plugin.to_raw(entity, record)
            assert raw.updated_at >= raw.created_at, (entity, record["Id"])
    assert any(r.get("PrivateNote") == "Voided" for r in company.records["Invoice"])
    assert company.deleted and {t.entity for t in company.deleted} == {"Invoice"}
    state = SimulatorState(companies=[company])
    assert len(state.records("9130350000000123", "Invoice")) == len(company.records["Invoice"])


def test_datagen_serves_on_the_quickbooks_simulators_port_where_the_app_looks_for_it():
    from urllib.parse import urlsplit

    from plugins.monday.demo import SIMULATOR_URL as DEFAULT_MONDAY_BASE_URL
    from plugins.quickbooks.demo import SIMULATOR_URL as DEFAULT_QBO_BASE_URL
    from sandbox.monday.__main__ import _parser as monday_cli
    from sandbox.ports import MONDAY_PORT, QUICKBOOKS_PORT
    from sandbox.quickbooks.__main__ import _parser as quickbooks_cli
    from sandbox.quickbooks.datagen.__main__ import build_parser

    assert build_parser().get_default("port") == QUICKBOOKS_PORT
    # Every other place that names the ports agrees with sandbox/ports.py.
    assert quickbooks_cli().get_default("port") == urlsplit(DEFAULT_QBO_BASE_URL).port == QUICKBOOKS_PORT
    assert monday_cli().get_default("port") == MONDAY_PORT != QUICKBOOKS_PORT
    assert urlsplit(DEFAULT_MONDAY_BASE_URL).port == MONDAY_PORT
    services = (Path(__file__).resolve().parents[2] / "scripts" / "services.sh").read_text()
    assert f"\nQBO_PORT={QUICKBOOKS_PORT}\n" in services and f"\nMONDAY_PORT={MONDAY_PORT}\n" in services
