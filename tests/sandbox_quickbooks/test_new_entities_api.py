"""The added entities over HTTP: query and paging, CDC with deletes, tax entities left out of CDC."""

from __future__ import annotations

import pytest

from sandbox.quickbooks import SimulatorState

from .conftest import REALM, Api

NEW_TRANSACTIONS = ("Estimate", "CreditMemo", "RefundReceipt", "BillPayment", "VendorCredit", "Deposit",
                    "JournalEntry")


def _visible(state: SimulatorState, entity: str) -> list[dict]:
    # List entities hide inactive rows; the pseudo tax codes have no flag and are always listed.
    return [r for r in state.records(REALM, entity) if r.get("Active") is not False]


@pytest.mark.parametrize("entity", [*NEW_TRANSACTIONS, "TaxCode", "TaxRate", "ExchangeRate"])
async def test_each_added_entity_is_queryable_and_pages_without_gaps_or_repeats(api: Api, state: SimulatorState,
                                                                                entity: str) -> None:
    expected = _visible(state, entity)
    status, body = await api.query(f"SELECT COUNT(*) FROM {entity}")
    assert status == 200 and body["QueryResponse"] == {"totalCount": len(expected)}
    size = max(2, len(expected) // 3)
    order = "MetaData.LastUpdatedTime, SourceCurrencyCode, AsOfDate" if entity == "ExchangeRate" \
        else "Metadata.LastUpdatedTime, Id"
    seen: list[dict] = []
    start = 1
    while True:
        status, body = await api.query(f"SELECT * FROM {entity} ORDERBY {order} STARTPOSITION {start} "
                                       f"MAXRESULTS {size}")
        assert status == 200
        page = body["QueryResponse"].get(entity, [])
        if not page:
            break
        assert body["QueryResponse"]["maxResults"] == len(page) <= size
        seen += page
        start += size
    fields = ("SourceCurrencyCode", "AsOfDate") if entity == "ExchangeRate" else ("Id",)

    def key(row: dict) -> tuple:
        return tuple(row[f] for f in fields)

    assert len({key(r) for r in seen}) == len(seen) == len(expected)
    assert sorted(seen, key=key) == sorted(expected, key=key)


async def test_exchange_rates_filter_by_date_and_currency(api: Api, state: SimulatorState) -> None:
    rows = await api.rows("SELECT * FROM ExchangeRate WHERE AsOfDate = '2026-10-01'", "ExchangeRate")
    assert sorted(r["SourceCurrencyCode"] for r in rows) == ["CAD", "EUR", "GBP"]
    euro = await api.rows("SELECT * FROM ExchangeRate WHERE SourceCurrencyCode IN ('EUR') AND AsOfDate >= "
                          "'2026-01-01' MAXRESULTS 1000", "ExchangeRate")
    expected = [r for r in state.records(REALM, "ExchangeRate")
                if r["SourceCurrencyCode"] == "EUR" and r["AsOfDate"] >= "2026-01-01"]
    assert euro and len(euro) == len(expected) and all(r["TargetCurrencyCode"] == "USD" for r in euro)


async def test_tax_codes_list_the_pseudo_codes_with_and_without_active_filters(api: Api) -> None:
    default = {r["Id"] for r in await api.rows("SELECT * FROM TaxCode", "TaxCode")}
    everything = {r["Id"] for r in await api.rows("SELECT * FROM TaxCode WHERE Active IN (true, false)", "TaxCode")}
    assert {"TAX", "NON"} <= default < everything
    retired = await api.rows("SELECT * FROM TaxRate WHERE Active = false", "TaxRate")
    assert retired and all(r["Name"].endswith(" (deleted)") for r in retired)


async def test_read_by_id_serves_the_added_transactions(api: Api, state: SimulatorState) -> None:
    for entity in (*NEW_TRANSACTIONS, "TaxRate"):
        record = state.records(REALM, entity)[0]
        status, body = await api.get(f"{entity.lower()}/{record['Id']}")
        assert status == 200 and body[entity] == record, entity


async def test_cdc_returns_changes_and_hard_deletes_of_the_added_transactions(api: Api,
                                                                               state: SimulatorState) -> None:
    since = state.clock.now().isoformat()
    changed, gone = {}, {}
    for entity in NEW_TRANSACTIONS:
        first, second = sorted(state.records(REALM, entity), key=lambda r: int(r["Id"]))[:2]
        state.update(REALM, entity, first["Id"], {"PrivateNote": "changed"})
        state.delete(REALM, entity, second["Id"])
        changed[entity], gone[entity] = first["Id"], second["Id"]
    status, body = await api.cdc(",".join(NEW_TRANSACTIONS), since)
    assert status == 200
    parts = {name: part[name] for part in body["CDCResponse"][0]["QueryResponse"] for name in part
             if isinstance(part[name], list)}
    for entity in NEW_TRANSACTIONS:
        rows = {r["Id"]: r for r in parts[entity]}
        assert rows[changed[entity]]["PrivateNote"] == "changed", entity
        assert rows[gone[entity]]["status"] == "Deleted", entity


async def test_cdc_covers_exchange_rates_and_leaves_out_tax_codes_and_rates(api: Api, state: SimulatorState) -> None:
    since = state.clock.now().isoformat()
    state.create(REALM, "ExchangeRate", {"SourceCurrencyCode": "EUR", "AsOfDate": "2026-11-01", "Rate": 1.1})
    state.delete(REALM, "TaxRate", state.records(REALM, "TaxRate")[0]["Id"])  # made inactive: a change
    status, body = await api.cdc("TaxCode,ExchangeRate,TaxRate", since)
    assert status == 200
    parts = body["CDCResponse"][0]["QueryResponse"]
    assert [next(iter(p)) for p in parts] == ["ExchangeRate"]
    (rate,) = parts[0]["ExchangeRate"]
    assert (rate["SourceCurrencyCode"], rate["AsOfDate"], rate["Rate"]) == ("EUR", "2026-11-01", 1.1)
    status, body = await api.cdc("TaxCode", since)
    assert status == 200 and body["CDCResponse"] == [{"QueryResponse": []}]
