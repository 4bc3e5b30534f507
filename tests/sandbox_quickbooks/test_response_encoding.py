"""The simulator writes its JSON with orjson where the two write the same text (sandbox/quickbooks/responses.py): the
same bytes as the standard library's compact, non-ASCII JSON for a page of generated invoices, and the standard
library's own text wherever orjson would write another (NaN) or cannot write at all."""

from __future__ import annotations

import json
import math

from sandbox.quickbooks import responses
from sandbox.quickbooks.datagen import generate_company


def _standard(payload) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def test_a_page_of_invoices_is_written_exactly_as_the_standard_library_writes_it():
    company = generate_company("9130350000000009", 11, records=600)
    payload = {"QueryResponse": {"Invoice": company.records["Invoice"][:300], "startPosition": 1,
                                 "maxResults": 300}, "time": "2026-11-01T06:00:00.000-07:00"}
    assert responses.encode(payload) == _standard(payload)
    text = {"DisplayName": "Café Łódź 東京", "Balance": 12.5, "Active": True, "Notes": None}
    assert responses.encode(text) == _standard(text)


def test_what_orjson_would_write_otherwise_is_written_by_the_standard_library():
    for payload in ({"Amount": math.nan}, {"Big": 2**70}, {1: "a non-string key"}):
        assert responses.encode(payload) == _standard(payload)
