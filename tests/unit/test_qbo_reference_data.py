"""Every JSON response recorded from the real QuickBooks API parses through the plugin or yields its fault."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from plugins.quickbooks import PLUGIN, cdc
from plugins.quickbooks.faults import classify
from plugins.quickbooks.streams import STREAMS
from shared.core.http import Response
from tests.reference import REFERENCE, cassette

# Entities the recordings contain that the plugin does not sync (attachments are files, not business data).
NOT_SYNCED = {"Attachable", "AttachableResponse"}


def entity_records(doc: Any) -> list[tuple[str, dict[str, Any]]]:
    """(entity, record) pairs anywhere a QuickBooks response can carry them."""
    found: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(doc, dict):
        return found
    for key, value in doc.items():
        if key == "QueryResponse" and isinstance(value, dict):
            found += [(k, r) for k, v in value.items() if isinstance(v, list) for r in v]
        elif key == "CDCResponse":
            found += cdc.changed_objects(doc)
        elif key == "BatchItemResponse":
            for item in value:
                found += entity_records(item)
        elif key in STREAMS and isinstance(value, dict):
            found.append((key, value))
    return found


def recorded_json() -> list[tuple[str, int, dict[str, str], bytes]]:
    out = []
    for path in sorted((REFERENCE / "quickbooks/vcr").glob("*/*.yml")):
        for r in cassette(str(path.relative_to(REFERENCE))):
            if r.headers.get("Content-Type", "").startswith("application/json"):
                out.append((str(path.relative_to(REFERENCE)), r.status, r.headers, r.body))
    for path in sorted((REFERENCE / "quickbooks/exquickbooks-json").glob("*.json")):
        body = path.read_bytes()
        status = 400 if b'"Fault"' in body[:200] else 200
        out.append((str(path.relative_to(REFERENCE)), status, {"Content-Type": "application/json"}, body))
    return out


RESPONSES = recorded_json()


@pytest.mark.parametrize(("name", "status", "headers", "body"), RESPONSES, ids=[r[0] for r in RESPONSES])
def test_recorded_response_parses_or_yields_its_fault(name, status, headers, body):
    verdict = classify(Response(status, headers, body))
    doc = json.loads(body)
    if verdict.kind != "ok":
        # A 401 asks for a refreshed token and one more try ("reauth"); every other fault fails.
        assert verdict.kind in ("fail", "reauth") and verdict.code, name
        return
    if "Header" in doc and "Rows" in doc:
        return  # reports: flattened in tests/unit/test_qbo_reports.py
    for entity, record in entity_records(doc):
        if entity in NOT_SYNCED or "Fault" in record:
            continue
        if record.get("status") == "Deleted" and "MetaData" not in record:
            # The answer to a delete request (not a sync read) has no time: the plugin says so, it does not guess.
            with pytest.raises(ValueError, match=r"has no MetaData\.LastUpdatedTime"):
                PLUGIN.to_raw(entity, record)
            continue
        raw = PLUGIN.to_raw(entity, record)
        assert raw.id == str(record["Id"]) and raw.updated_at is not None
        assert len(raw.typed) == len(STREAMS[entity].fields)


def test_the_recordings_cover_many_entities_and_records():
    seen: Counter[str] = Counter()
    for _, status, headers, body in RESPONSES:
        if classify(Response(status, headers, body)).kind == "ok":
            for entity, record in entity_records(json.loads(body)):
                if entity in STREAMS and "Fault" not in record:
                    seen[entity] += 1
    assert {"Customer", "Invoice", "SalesReceipt", "Vendor", "Employee", "Account", "Estimate"} <= set(seen)
    assert sum(seen.values()) > 50


def test_recorded_invoice_typed_values():
    (recorded,) = [r for r in cassette("quickbooks/vcr/create/invoice.yml") if r.status == 200]
    raw = PLUGIN.to_raw("Invoice", json.loads(recorded.body)["Invoice"])
    typed = dict(zip((f.column for f in STREAMS["Invoice"].fields), raw.typed, strict=True))
    assert typed["currency"] == "USD" and typed["customer_id"] and typed["voided"] is False
    assert typed["total_amt"] is not None and typed["txn_date"] is not None


def test_recorded_void_is_recognised():
    voided = [r for r in cassette("quickbooks/vcr/void/invoice.yml") if b'"PrivateNote":"Voided"' in r.body]
    assert voided
    raw = PLUGIN.to_raw("Invoice", json.loads(voided[0].body)["Invoice"])
    typed = dict(zip((f.column for f in STREAMS["Invoice"].fields), raw.typed, strict=True))
    assert typed["voided"] is True and typed["total_amt"] == 0
