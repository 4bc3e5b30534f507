"""Child rows rendered for COPY's text format (shared/db/copy_text.py) store exactly what psycopg's binary COPY of
the same Python values stores, in real PostgreSQL; a value of the wrong type is refused naming its column."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import psycopg
import pytest
from psycopg.types.json import Jsonb

from shared.db.copy_text import row_renderer
from shared.db.loader import Column

COLUMNS = (Column("t", "text"), Column("i", "integer"), Column("b", "bigint"), Column("n", "numeric"),
           Column("flag", "boolean"), Column("d", "date"), Column("ts", "timestamptz"), Column("j", "jsonb"),
           Column("arr", "text[]"))
PACIFIC = dt.timezone(dt.timedelta(hours=-8))
INDIA = dt.timezone(dt.timedelta(hours=5, minutes=30))

# Values a plugin's readers give, the awkward ones included: COPY's own escapes (backslash, tab, newline, \N),
# array quoting, quotes and backslashes inside JSON strings, numbers in every form a source sends.
ROWS = [
    ("plain", 1, 2**40, Decimal("12.50"), True, dt.date(2026, 2, 3), dt.datetime(2026, 2, 3, 10, 0, 1, tzinfo=PACIFIC),
     {"a": 1, "b": [1.5, None, "x"]}, ["1", "2"]),
    ("tab\there\nnew line\r\\N back\\slash é 🙂", -7, -1, Decimal("-0.000001"), False, dt.date(1, 1, 1),
     dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC), {"q": 'say "hi"\\ \t\n', "é": "\\N"},
     ['a "quoted", {braced} \\ one', None, "", "NULL", "tab\t"]),
    ("\\N", 0, 0, Decimal("1E+3"), None, None, None, Jsonb({"wrapped": True}), []),
    (None, None, None, 1.1, None, dt.datetime(2026, 5, 6, 23, 0, tzinfo=PACIFIC), None, [1, "two", {"3": None}], None),
    ("", 2147483647, -2**63, 10**30, None, None, dt.datetime(2026, 1, 1, tzinfo=INDIA), "just text", ["x"]),
    ("nan and inf", 3, 3, Decimal("NaN"), None, None, None, None, None),
    ("float", 4, 4, 1e16, None, None, None, Jsonb(None), None),
    ("int as number", 5, 5, 7, None, None, None, 12, None),
    ("infinity", 6, 6, float("inf"), None, None, None, False, None),
    ("decimal specials", 7, 7, Decimal("-0"), None, None,
     dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30, seconds=15))),
     Jsonb({"b": 2, "a": 1}, dumps=lambda obj: '{"dumped": "by its own dumps"}'), None),
    ("decimal infinity", 8, 8, Decimal("-Infinity"), None, None,
     dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.timezone(dt.timedelta(hours=1, microseconds=5))), None, None),
    ("decimal snan", 9, 9, Decimal("sNaN"), None, None, None, None, None),
    # numeric's own edges (131,072 digits before the point, 16,383 after), inside and beyond the renderer's fast path
    ("numeric's largest", 10, 10, Decimal("-9E+131071"), None, None, None, None, None),
    ("numeric's finest", 11, 11, Decimal("1.5E-16382"), None, None, None, None, None),
    ("a zero's exponent is no digit", 12, 12, Decimal("0E+200000"), None, None, None, None, None),
    ("many digits", 13, 13, Decimal("0." + "1" * 16383), None, None, None, None, None),
    ("just inside the fast path", 14, 14, Decimal("1E+3999"), None, None, None, None, None),
]


@pytest.fixture
def tables(pg_dsn):
    with psycopg.connect(pg_dsn) as conn:
        ddl = ", ".join(f"{c.name} {c.pg_type}" for c in COLUMNS)
        for name in ("by_binary", "by_text"):
            conn.execute(f"CREATE TEMP TABLE {name} (k integer, {ddl})")
        yield conn
        conn.rollback()


def test_text_rendering_stores_what_binary_copy_of_the_same_values_stores(tables):
    conn = tables
    names = "k, " + ", ".join(c.name for c in COLUMNS)
    with conn.cursor() as cur, cur.copy(f"COPY by_binary ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["integer", *(c.pg_type for c in COLUMNS)])
        for k, row in enumerate(ROWS):
            # psycopg's binary dumpers take a JSON value only wrapped, and no float for numeric
            values = [Jsonb(v) if c.pg_type == "jsonb" and v is not None and not isinstance(v, Jsonb) else v
                      for c, v in zip(COLUMNS, row, strict=True)]
            values[3] = Decimal(repr(values[3])) if isinstance(values[3], float) else values[3]
            copy.write_row((k, *values))
    render = row_renderer(COLUMNS)
    with conn.cursor() as cur, cur.copy(f"COPY by_text ({names}) FROM STDIN") as copy:
        for k, row in enumerate(ROWS):
            copy.write_row((k, *render(row)))
    query = "SELECT k, t, i, b, n::text, flag, d, ts, j, arr FROM {} ORDER BY k"
    binary = conn.execute(query.format("by_binary")).fetchall()
    text = conn.execute(query.format("by_text")).fetchall()
    assert len(text) == len(ROWS)
    assert text == binary
    assert text[1][1] == ROWS[1][0] and text[1][9] == ROWS[1][8]  # escapes came back as they went in


@pytest.mark.parametrize("column, value, says", [
    (Column("n", "numeric"), "12", "column n: expected a number, got str '12'"),
    (Column("n", "numeric"), True, "column n: expected a number, got bool True"),
    (Column("i", "integer"), 1.5, "column i: expected an integer, got float 1.5"),
    (Column("i", "integer"), True, "column i: expected an integer, got bool True"),
    (Column("i", "integer"), 2**31, "column i: 2147483648 is out of range for type integer"),
    (Column("i", "integer"), -2**31 - 1, "column i: -2147483649 is out of range for type integer"),
    (Column("s", "smallint"), 2**15, "column s: 32768 is out of range for type smallint"),
    (Column("b", "bigint"), 2**63, "column b: 9223372036854775808 is out of range for type bigint"),
    (Column("n", "numeric"), Decimal("1E+131072"),
     "column n: 1E+131072 has more than 131072 digits before the point, beyond PostgreSQL's numeric"),
    (Column("n", "numeric"), Decimal("-12345E+131068"), "column n: -1.2345E+131072 has more than 131072 digits"),
    (Column("n", "numeric"), Decimal("1.5E-16383"),
     "column n: 1.5E-16383 has 16384 digits after the point, beyond PostgreSQL's numeric (16383)"),
    (Column("n", "numeric"), Decimal("0E-16384"), "column n: 0E-16384 has 16384 digits after the point"),
    (Column("n", "numeric"), Decimal("0." + "1" * 16384), "column n: 1.111111E-1 has 16384 digits after the point"),
    (Column("t", "text"), {"a": 1}, "column t: expected text, got dict"),
    (Column("t", "text"), True, "column t: expected text, got bool"),
    (Column("flag", "boolean"), "yes", "column flag: expected a boolean, got str 'yes'"),
    (Column("d", "date"), "2026-02-03", "column d: expected a date, got str '2026-02-03'"),
    (Column("ts", "timestamptz"), dt.datetime(2026, 2, 3), "column ts: the time 2026-02-03T00:00:00 has no time zone"),
    (Column("arr", "text[]"), "1,2", "column arr: expected a list of text, got str"),
    (Column("arr", "text[]"), [["nested"]], "column arr: expected text, got list"),
    (Column("j", "jsonb"), {1: object()}, "column j: not JSON"),
    (Column("j", "jsonb"), {"text": ["a\x00b"]}, "column j: text[0] holds U+0000, which PostgreSQL cannot store"),
    (Column("j", "jsonb"), Jsonb({"t": "cut \ud83d"}),
     "column j: t holds U+D83D (half of a UTF-16 surrogate pair, alone), which PostgreSQL cannot store"),
])
def test_a_value_of_the_wrong_type_is_refused_naming_its_column(column, value, says):
    render = row_renderer((Column("k", "text"), column))
    with pytest.raises(ValueError, match="^" + re.escape(says)):
        render(("key", value))


def test_json_text_that_only_looks_like_what_postgresql_cannot_store_is_rendered():
    render = row_renderer((Column("j", "jsonb"),))
    (text,) = render(({"note": "the six characters \\u0000 and \\ud83d, NaN", "emoji": "\U0001f600"},))
    assert text == '{"note":"the six characters \\\\u0000 and \\\\ud83d, NaN","emoji":"\U0001f600"}'


def test_a_row_of_the_wrong_width_and_a_type_without_rendering_are_refused():
    render = row_renderer(COLUMNS[:2])
    with pytest.raises(ValueError, match="a row of 3 values for 2 columns"):
        render(("a", 1, 2))
    with pytest.raises(ValueError, match=r"column p: no text rendering for type point; add one to shared/db/copy_text"):
        row_renderer((Column("p", "point"),))
