"""The keyset index answers keyset pages and counts exactly as the general evaluator does, before and after writes,
and leaves every query it cannot answer exactly to the evaluator."""

from __future__ import annotations

from typing import Any

from sandbox.quickbooks import SimulatorState
from sandbox.quickbooks.entities import ENTITIES, EntityKind
from sandbox.quickbooks.keyset import answer
from sandbox.quickbooks.query import evaluate, parse, validate

from .conftest import REALM

ORDER = "ORDERBY Metadata.LastUpdatedTime, Id"


def _both(state: SimulatorState, kind: EntityKind, text: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(the index's answer, or None when it leaves the query to the evaluator; the evaluator's answer)."""
    store = state.store(REALM)
    query = parse(text)
    rows = store.rows(kind.name)
    validate(query, kind, rows, store.tz_name)
    return answer(query, kind, lambda: store.keyset(kind), store.tz_name), evaluate(query, kind, rows, store.tz_name)


def _keyset_queries(state: SimulatorState, kind: EntityKind) -> list[str]:
    """The queries a sync sends (pages, split chains, COUNT, one-record probes) from times found in the data,
    and the comparisons around them."""
    stamps = sorted({str(r["MetaData"]["LastUpdatedTime"]) for r in state.store(REALM).rows(kind.name)})
    picks = [stamps[0], stamps[len(stamps) // 3], stamps[len(stamps) // 2], stamps[-1], "2000-01-01T00:00:00Z",
             "2099-01-01T00:00:00-07:00"]
    flag = " AND Active IN (true, false)" if kind.is_list else ""
    queries = []
    for low in picks:
        where = f"WHERE Metadata.LastUpdatedTime >= '{low}'{flag}"
        queries += [f"SELECT * FROM {kind.name} {where} {ORDER} STARTPOSITION 1 MAXRESULTS 7",
                    f"SELECT * FROM {kind.name} {where} {ORDER} STARTPOSITION 4 MAXRESULTS 1",
                    f"SELECT * FROM {kind.name} {where} {ORDER} STARTPOSITION 5000 MAXRESULTS 10",
                    f"SELECT COUNT(*) FROM {kind.name} {where}",
                    f"SELECT * FROM {kind.name} WHERE Metadata.LastUpdatedTime > '{low}'{flag} {ORDER}",
                    f"SELECT * FROM {kind.name} WHERE Metadata.LastUpdatedTime = '{low}'{flag} {ORDER}",
                    f"SELECT COUNT(*) FROM {kind.name} WHERE Metadata.LastUpdatedTime <= '{low}'{flag}"]
        for high in picks:
            queries.append(f"SELECT * FROM {kind.name} {where} AND Metadata.LastUpdatedTime < '{high}' {ORDER} "
                           "MAXRESULTS 1000")
    return queries


def _assert_same_everywhere(state: SimulatorState) -> int:
    answered = 0
    for kind in ENTITIES.values():
        if not state.store(REALM).rows(kind.name):
            continue
        for text in _keyset_queries(state, kind):
            fast, general = _both(state, kind, text)
            assert fast is None or fast == general, text
            if fast is not None:
                ids = [r.get("Id") for r in fast.get(kind.name, [])]
                assert ids == [r.get("Id") for r in general.get(kind.name, [])], text
                answered += 1
    return answered


def test_keyset_pages_and_counts_match_the_general_evaluator_for_every_entity(state: SimulatorState) -> None:
    assert _assert_same_everywhere(state) > 1000


def test_after_writes_the_index_is_rebuilt_and_still_matches(state: SimulatorState) -> None:
    store = state.store(REALM)
    invoice = store.rows("Invoice")[0]
    before = store.keyset(ENTITIES["Invoice"])
    state.update(REALM, "Invoice", invoice["Id"], {"PrivateNote": "edited while paged"})
    customer = store.rows("Customer")[0]["Id"]
    state.create(REALM, "Invoice", {"CustomerRef": {"value": customer},
                                    "Line": [{"Amount": 10, "DetailType": "SalesItemLineDetail",
                                              "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}]})
    state.delete(REALM, "Payment", store.rows("Payment")[0]["Id"])
    state.delete(REALM, "Customer", customer)  # a list entity: made inactive, hidden unless Active is named
    state.void(REALM, "Invoice", store.rows("Invoice")[1]["Id"])
    assert store.keyset(ENTITIES["Invoice"]) is not before
    assert _assert_same_everywhere(state) > 1000
    fast, general = _both(state, ENTITIES["Invoice"], f"SELECT * FROM Invoice {ORDER} MAXRESULTS 1000")
    assert fast == general and fast["Invoice"][-1]["PrivateNote"] == "Voided"  # the newest write comes last


def test_a_customer_made_inactive_is_hidden_by_the_evaluator_not_the_index(state: SimulatorState) -> None:
    store = state.store(REALM)
    state.delete(REALM, "Customer", store.rows("Customer")[0]["Id"])
    fast, general = _both(state, ENTITIES["Customer"],
                          f"SELECT * FROM Customer WHERE Metadata.LastUpdatedTime >= '2000-01-01' {ORDER}")
    assert fast is None and all(r.get("Active") is not False for r in general["Customer"])
    fast, general = _both(state, ENTITIES["Customer"], "SELECT * FROM Customer WHERE Metadata.LastUpdatedTime >= "
                                                       f"'2000-01-01' AND Active IN (true, false) {ORDER}")
    assert fast == general and any(r.get("Active") is False for r in fast["Customer"])


def test_queries_of_other_shapes_and_unusual_rows_go_to_the_evaluator(state: SimulatorState) -> None:
    invoice = ENTITIES["Invoice"]
    for text in ["SELECT * FROM Invoice ORDERBY Metadata.LastUpdatedTime DESC, Id",
                 "SELECT * FROM Invoice ORDERBY TxnDate",
                 "SELECT * FROM Invoice",
                 f"SELECT * FROM Invoice WHERE TotalAmt > '100' {ORDER}",
                 "SELECT COUNT(*) FROM Invoice WHERE Metadata.LastUpdatedTime IN ('2026-01-01T00:00:00Z')"]:
        fast, general = _both(state, invoice, text)
        assert fast is None, text
    store = state.store(REALM)
    # A record whose time is unreadable (the app quarantines it): the evaluator compares it as text ("not a time"
    # comes after "2000-"), which the index cannot do by bisecting.
    store.rows("Invoice")[0]["MetaData"]["LastUpdatedTime"] = "not a time"
    store.changed()
    fast, general = _both(state, invoice, "SELECT COUNT(*) FROM Invoice WHERE Metadata.LastUpdatedTime >= "
                                          "'2000-01-01T00:00:00Z'")
    assert fast is None and general["totalCount"] == len(store.rows("Invoice"))
