"""GET /query over HTTP: envelopes, paging, ordering, filters and faults as QBO answers them."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sandbox.quickbooks import SimulatorState
from sandbox.quickbooks.clock import parse_instant

from . import reference
from .conftest import REALM, Api

TIME_FIELD = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$")


def _invoice_ids(state: SimulatorState, count: int) -> list[str]:
    return sorted((r["Id"] for r in state.records(REALM, "Invoice")), key=int)[:count]


def _key(row: dict) -> tuple:
    return parse_instant(row["MetaData"]["LastUpdatedTime"]), int(row["Id"])


async def test_count_star_gives_total_count_in_the_recorded_envelope(api: Api) -> None:
    status, body = await api.query("SELECT COUNT(*) FROM Invoice")
    assert status == 200
    assert list(body) == ["QueryResponse", "time"]
    assert body["QueryResponse"] == {"totalCount": 400}
    assert TIME_FIELD.match(body["time"])


async def test_paging_with_startposition_and_maxresults_ends_with_a_short_page(api: Api) -> None:
    seen: list[str] = []
    start, sizes = 1, []
    while True:
        status, body = await api.query(f"SELECT * FROM Invoice ORDERBY Id STARTPOSITION {start} MAXRESULTS 150")
        assert status == 200
        page = body["QueryResponse"]
        if not page:
            break
        assert list(page) == ["Invoice", "startPosition", "maxResults"]
        assert page["startPosition"] == start and page["maxResults"] == len(page["Invoice"])
        sizes.append(page["maxResults"])
        seen += [row["Id"] for row in page["Invoice"]]
        start += 150
    assert sizes == [150, 150, 100]
    assert len(seen) == len(set(seen)) == 400
    assert seen == sorted(seen, key=int)


async def test_default_page_is_100_rows(api: Api) -> None:
    rows = await api.rows("SELECT * FROM Invoice", "Invoice")
    assert len(rows) == 100


async def test_maxresults_over_1000_is_refused_not_capped(api: Api) -> None:
    status, body = await api.query("SELECT * FROM Invoice MAXRESULTS 1001")
    assert status == 400
    error = body["Fault"]["Error"][0]
    assert (error["code"], body["Fault"]["type"]) == ("4001", "ValidationFault")
    assert "Max allowed value is 1000" in error["Detail"]


async def test_empty_result_is_an_empty_query_response(api: Api) -> None:
    status, body = await api.query("SELECT * FROM Invoice WHERE Id = '999999'")
    assert status == 200
    assert body["QueryResponse"] == {} and list(body) == ["QueryResponse", "time"]


async def test_orderby_last_updated_time_then_id(api: Api) -> None:
    rows = await api.rows("SELECT * FROM Payment ORDERBY Metadata.LastUpdatedTime, Id MAXRESULTS 1000", "Payment")
    assert len(rows) == 300
    assert rows == sorted(rows, key=_key)
    descending = await api.rows("SELECT * FROM Payment ORDERBY MetaData.LastUpdatedTime DESC, Id DESC "
                                "MAXRESULTS 1000", "Payment")
    assert descending == rows[::-1]


async def test_orderby_id_is_numeric_not_lexicographic(api: Api) -> None:
    rows = await api.rows("SELECT * FROM Customer ORDERBY Id MAXRESULTS 1000", "Customer")
    ids = [int(r["Id"]) for r in rows]
    assert ids == sorted(ids) and any(i >= 10 for i in ids)


async def test_where_last_updated_time_sees_mutations_with_ge_and_gt(api: Api, state: SimulatorState) -> None:
    second, first = _invoice_ids(state, 2)  # the higher Id changes first: order must follow time
    before = state.clock.now().isoformat()
    state.update(REALM, "Invoice", first, {"PrivateNote": "first"})
    state.update(REALM, "Invoice", second, {"PrivateNote": "second"})
    changed = await api.rows(f"SELECT * FROM Invoice WHERE Metadata.LastUpdatedTime >= '{before}' "
                             "ORDERBY Metadata.LastUpdatedTime, Id", "Invoice")
    assert [r["Id"] for r in changed] == [first, second]
    first_stamp = changed[0]["MetaData"]["LastUpdatedTime"]
    at_or_after = await api.rows(f"SELECT * FROM Invoice WHERE Metadata.LastUpdatedTime >= '{first_stamp}'", "Invoice")
    after = await api.rows(f"SELECT * FROM Invoice WHERE Metadata.LastUpdatedTime > '{first_stamp}'", "Invoice")
    assert {r["Id"] for r in at_or_after} == {first, second}
    assert [r["Id"] for r in after] == [second]


async def test_timestamps_compare_as_instants_whatever_the_offset(api: Api, state: SimulatorState) -> None:
    (target,) = _invoice_ids(state, 1)
    state.update(REALM, "Invoice", target, {"PrivateNote": "touched"})
    stamp = parse_instant(state.get(REALM, "Invoice", target)["MetaData"]["LastUpdatedTime"])
    as_utc = stamp.astimezone(parse_instant("2026-01-01T00:00:00+00:00").tzinfo).isoformat()
    as_tokyo = stamp.astimezone(parse_instant("2026-01-01T00:00:00+09:00").tzinfo).isoformat()
    for literal in (as_utc, as_tokyo, as_utc.replace("+00:00", "Z")):
        rows = await api.rows(f"SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '{literal}'", "Invoice")
        assert [r["Id"] for r in rows] == [target], literal


async def test_create_time_filter_and_property_spelling(api: Api) -> None:
    _, lower = await api.query("SELECT COUNT(*) FROM Invoice WHERE Metadata.CreateTime < '2025-06-01T00:00:00-07:00'")
    _, upper = await api.query("SELECT COUNT(*) FROM Invoice WHERE MetaData.CreateTime < '2025-06-01T00:00:00-07:00'")
    assert lower == upper and 0 < lower["QueryResponse"]["totalCount"] < 400


async def test_inactive_list_rows_are_hidden_unless_asked_for(api: Api, state: SimulatorState) -> None:
    everyone = state.records(REALM, "Customer")
    inactive = sum(1 for c in everyone if not c["Active"])
    assert inactive > 0
    _, default = await api.query("SELECT COUNT(*) FROM Customer")
    _, both = await api.query("SELECT COUNT(*) FROM Customer WHERE Active IN (true, false)")
    _, retired = await api.query("SELECT COUNT(*) FROM Customer WHERE Active = false")
    assert default["QueryResponse"]["totalCount"] == len(everyone) - inactive
    assert both["QueryResponse"]["totalCount"] == len(everyone)
    assert retired["QueryResponse"]["totalCount"] == inactive
    hidden = next(c for c in everyone if not c["Active"])
    assert await api.rows(f"SELECT * FROM Customer WHERE Id = '{hidden['Id']}'", "Customer") == []
    status, body = await api.get(f"customer/{hidden['Id']}")
    assert status == 200 and body["Customer"]["Active"] is False  # read by Id still finds it


async def test_id_in_and_txn_date_filters(api: Api, state: SimulatorState) -> None:
    rows = await api.rows("SELECT * FROM Invoice WHERE Id IN ('3', '10', '12') ORDERBY Id", "Invoice")
    wanted = {r["Id"] for r in state.records(REALM, "Invoice")} & {"3", "10", "12"}
    assert [r["Id"] for r in rows] == sorted(wanted, key=int)
    ranged = await api.rows("SELECT * FROM Invoice WHERE TxnDate >= '2026-01-01' AND TxnDate < '2026-02-01' "
                            "MAXRESULTS 1000", "Invoice")
    expected = [r for r in state.records(REALM, "Invoice") if "2026-01-01" <= r["TxnDate"] < "2026-02-01"]
    assert {r["Id"] for r in ranged} == {r["Id"] for r in expected} and expected


async def test_like_and_ref_filters(api: Api, state: SimulatorState) -> None:
    customer = state.records(REALM, "Invoice")[0]["CustomerRef"]["value"]
    rows = await api.rows(f"SELECT * FROM Invoice WHERE CustomerRef = '{customer}' MAXRESULTS 1000", "Invoice")
    assert rows and all(r["CustomerRef"]["value"] == customer for r in rows)
    named = await api.rows("SELECT * FROM Item WHERE Name LIKE 'Sprinkler%'", "Item")
    assert sorted(r["Name"] for r in named) == ["Sprinkler Heads", "Sprinkler Pipes"]


async def test_unsupported_syntax_answers_the_recorded_parser_fault(api: Api) -> None:
    recorded = json.loads((reference.QUICKBOOKS / "exquickbooks-json" / "api_query_error.json").read_text())
    for text in ("SELECT * FROM Invoice WHERE Id = '1' OR Id = '2'", "SELECT * FROM Invoice, Customer",
                 "SELECT Id FROM Invoice"):
        status, body = await api.query(text)
        assert status == 400
        assert list(body) == list(recorded) and list(body["Fault"]) == list(recorded["Fault"])
        error = body["Fault"]["Error"][0]
        assert list(error) == list(recorded["Fault"]["Error"][0])
        assert (error["Message"], error["code"]) == ("Error parsing query", "4000")
        assert error["Detail"].startswith("QueryParserError:")


async def test_unknown_entity_and_property_are_validation_faults(api: Api) -> None:
    status, body = await api.query("SELECT * FROM Custmoer")
    assert status == 400
    # Exactly the recorded body of vcr/error/400.yml, apart from the time.
    assert body["Fault"] == {"Error": [{"Message": "Invalid query", "Detail": "QueryValidationError: invalid "
                                        "context declaration: Custmoer", "code": "4001"}], "type": "ValidationFault"}
    status, body = await api.query("SELECT * FROM Invoice WHERE Active = true")
    assert status == 400 and body["Fault"]["Error"][0]["code"] == "4001"


async def test_query_can_be_posted_as_text(api: Api) -> None:
    response = await api.client.post(f"/v3/company/{REALM}/query", params={"minorversion": "75"},
                                     data="SELECT COUNT(*) FROM Payment",
                                     headers={**api.headers(), "Content-Type": "application/text"})
    assert response.status == 200
    assert (await response.json())["QueryResponse"] == {"totalCount": 300}


async def test_read_by_id_envelopes_and_faults(api: Api, state: SimulatorState) -> None:
    invoice_id = state.records(REALM, "Invoice")[0]["Id"]
    status, body = await api.get(f"invoice/{invoice_id}")
    assert status == 200 and list(body) == ["Invoice", "time"] and body["Invoice"]["Id"] == invoice_id
    status, body = await api.get("invoice/999999")
    assert status == 400 and body["Fault"]["Error"][0]["code"] == "610"
    status, body = await api.get("customer/1.5")
    assert status == 400
    assert body == {"Fault": {"Error": [{"Message": "Invalid ID", "Detail": "Id should be a valid number. "
                                         "Supplied value:1.5", "code": "2030", "element": "Id"}],
                              "type": "ValidationFault"}}
    status, body = await api.get(f"companyinfo/{REALM}")
    assert status == 200 and body["CompanyInfo"]["CompanyName"]


async def test_time_field_comes_from_the_simulated_clock(api: Api, state: SimulatorState) -> None:
    _, first = await api.query("SELECT COUNT(*) FROM Item")
    state.clock.advance(3600)
    _, second = await api.query("SELECT COUNT(*) FROM Item")
    gap = parse_instant(second["time"]) - parse_instant(first["time"])
    assert gap == timedelta(hours=1)
    assert parse_instant(first["time"]) == parse_instant("2026-11-01T12:00:00-07:00")
