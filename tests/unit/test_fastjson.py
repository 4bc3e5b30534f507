"""The load path's JSON (shared.core.fastjson): orjson where it can, the standard library where orjson refuses what
the standard library reads, so a record parses and serialises as it always did."""

from __future__ import annotations

import json
import math

from shared.core.fastjson import dumps_compact, dumps_line, loads


def test_records_parse_as_the_standard_library_parses_them():
    text = '{"Id":"1","TotalAmt":12.5,"Line":[{"Amount":1e2,"Qty":3}],"Note":"caf\\u00e9 \\"q\\"","N":null,"B":true}'
    assert loads(text.encode()) == json.loads(text)


def test_what_orjson_refuses_is_read_by_the_standard_library():
    # orjson reads these as floats: the standard library keeps them exact.
    for number in (123456789012345678901234567890, 18446744073709551616, -9223372036854775809):
        assert loads(f'{{"Id": {number}, "Name": "x"}}'.encode()) == {"Id": number, "Name": "x"}
        assert type(loads(f"[{number}]".encode())[0]) is int
    value = loads(b'{"x": NaN}')["x"]
    assert math.isnan(value)


def test_dumps_is_compact_utf8_json_that_reads_back_the_same():
    value = {"name": "café", "amount": 12.5, "lines": [1, None, True]}
    out = dumps_compact(value)
    assert isinstance(out, bytes) and b" " not in out.replace("café".encode(), b"")
    assert json.loads(out) == value


def test_what_orjson_cannot_write_is_written_by_the_standard_library():
    assert json.loads(dumps_compact({"big": 123456789012345678901234567890})) == {"big": 123456789012345678901234567890}
    assert json.loads(dumps_compact({1: "int key"})) == {"1": "int key"}


def _stdlib_line(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def test_a_landed_line_is_the_text_the_standard_library_writes():
    record = {"Id": "42", "SyncToken": "0", "TotalAmt": 1234.56, "Balance": 0, "Name": "Café \u2028 \"Ü\"\n\t",
              "Line": [{"Amount": 100.0, "Qty": 3, "LinkedTxn": [{"TxnId": "7", "TxnType": "Invoice"}]}],
              "MetaData": {"CreateTime": "2026-01-02T03:04:05-08:00"}, "Active": True}
    assert dumps_line(record) == _stdlib_line(record)


def test_what_orjson_writes_differently_or_not_at_all_is_written_by_the_standard_library():
    # orjson would write these three numbers as null: the standard library keeps them, as the pages always had.
    for number in (math.nan, math.inf, -math.inf):
        line = dumps_line({"Id": "1", "x": number})
        assert line == _stdlib_line({"Id": "1", "x": number}) and b"null" not in line
    assert dumps_line({"Id": "1", "n": None, "s": "nullable"}) == _stdlib_line({"Id": "1", "n": None, "s": "nullable"})
    assert dumps_line({"big": 123456789012345678901234567890}) == b'{"big":123456789012345678901234567890}'
    assert dumps_line({1: "int key"}) == _stdlib_line({1: "int key"})
    for number in (1e16, 1.5e-7, 0.1, 2.0**60):  # spelled either way, the same number
        assert json.loads(dumps_line({"x": number}))["x"] == number


def test_a_lone_surrogate_a_source_sent_escaped_is_landed_escaped_and_reads_back_the_same():
    # Valid JSON ("\ud800" alone), no UTF-8 for it: writing it failed, and with it every attempt of its page's fetch.
    sent = b'{"Id":"1","Name":"cut \\ud83d in half","Note":"caf\\u00e9 \\ud83d\\ude00"}'
    record = loads(sent)
    assert record["Name"] == "cut \ud83d in half" and record["Note"] == "caf\u00e9 \U0001f600"
    for write in (dumps_compact, dumps_line):
        line = write(record)
        assert line.isascii() and b"\\ud83d in half" in line
        assert loads(line) == record
    with_null = {**record, "Gone": None}
    assert loads(dumps_line(with_null)) == with_null
