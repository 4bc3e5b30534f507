"""The query-language parser: the subset QBO accepts, and QBO's errors for what it refuses."""

from __future__ import annotations

import pytest

from sandbox.quickbooks.query import Condition, QueryError, parse


def test_parses_the_incremental_sync_statement() -> None:
    query = parse("SELECT * FROM Invoice WHERE Metadata.LastUpdatedTime > '2026-10-01T00:00:00-07:00' "
                  "ORDERBY Metadata.LastUpdatedTime, Id DESC STARTPOSITION 101 MAXRESULTS 100")
    assert query.entity == "Invoice" and not query.count
    assert query.conditions == (Condition("Metadata.LastUpdatedTime", ">", ("2026-10-01T00:00:00-07:00",)),)
    assert query.order_by == (("Metadata.LastUpdatedTime", False), ("Id", True))
    assert (query.start_position, query.max_results) == (101, 100)


def test_keywords_are_case_insensitive_and_paging_clauses_come_in_either_order() -> None:
    query = parse("select count(*) from Customer where Active in ( true, false ) maxresults 5 startposition 3")
    assert query.count
    assert query.conditions == (Condition("Active", "IN", (True, False)),)
    assert (query.start_position, query.max_results) == (3, 5)


def test_quoted_values_keep_escaped_quotes_and_operators_inside() -> None:
    query = parse(r"SELECT * FROM Customer WHERE DisplayName = 'Amy\'s Bird Sanctuary' AND CompanyName LIKE '%OR%'")
    assert query.conditions[0].values == ("Amy's Bird Sanctuary",)
    assert query.conditions[1] == Condition("CompanyName", "LIKE", ("%OR%",))


def test_id_in_list() -> None:
    query = parse("SELECT * FROM Customer WHERE Id IN ('5', '6', '7')")
    assert query.conditions == (Condition("Id", "IN", ("5", "6", "7")),)


@pytest.mark.parametrize("text, column", [
    ("SELECT * FROM Invoice WHERE Id = '1' OR Id = '2'", 38),  # no OR
    ("SELECT * FROM Invoice, Customer", 22),  # no joins
    ("SELECT * FROM Invoice JOIN Customer", 23),
    ("SELECT Id, TxnDate FROM Invoice", 8),  # no projections
    ("SELECT * FROM Invoice GROUP BY CustomerRef", 23),
    ("SELECT * FROM Invoice ORDER BY Id", 23),  # the keyword is ORDERBY
    ("SELECT * FROM Invoice WHERE Id != '1'", 32),
    ("SELECT * FROM Invoice WHERE", 28),
    ("SELECT * FROM", 14),
])
def test_unsupported_syntax_is_a_query_parser_error(text: str, column: int) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text)
    assert caught.value.kind == "parser"
    assert caught.value.detail.startswith("QueryParserError: Encountered ")
    assert f"at line 1, column {column}." in caught.value.detail


def test_parser_error_text_follows_the_recorded_javacc_format() -> None:
    with pytest.raises(QueryError) as caught:
        parse("SELECT * FROM Invoice WHERE Id = '1' OR Id = '2'")
    assert caught.value.detail.startswith('QueryParserError: Encountered " "or" "OR "" at line 1, column 38.\n'
                                          "Was expecting one of:\n    <EOF> ...\n")
