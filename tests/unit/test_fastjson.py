"""The load path's JSON (shared.core.fastjson): orjson where it can, the standard library where orjson refuses what
the standard library reads, so a record parses and serialises as it always did."""

from __future__ import annotations

import json
import math

from shared.core.fastjson import dumps_compact, loads


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
