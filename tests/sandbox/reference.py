"""Readers for the recorded QuickBooks traffic and Intuit's XSD kept in shared/reference/quickbooks."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import yaml

QUICKBOOKS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "quickbooks"
_XS = "{http://www.w3.org/2001/XMLSchema}"
_ENTITY_NAMES = ("Customer", "Vendor", "Employee", "Item", "Account", "Invoice", "SalesReceipt", "Estimate",
                 "Payment", "Bill", "Purchase")


def available() -> bool:
    return (QUICKBOOKS / "vcr").is_dir()


def cassette_bodies(relative: str) -> list[dict[str, Any]]:
    """Decoded JSON response bodies of one VCR cassette (non-JSON bodies are skipped)."""
    data = yaml.safe_load((QUICKBOOKS / "vcr" / relative).read_text())
    bodies = []
    for interaction in data["http_interactions"]:
        try:
            bodies.append(json.loads(interaction["response"]["body"]["string"]))
        except (json.JSONDecodeError, TypeError):
            continue
    return bodies


def _collect(node: Any, found: dict[str, list[dict[str, Any]]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ENTITY_NAMES:
                rows = value if isinstance(value, list) else [value]
                found[key].extend(r for r in rows if isinstance(r, dict) and "MetaData" in r)
            _collect(value, found)
    elif isinstance(node, list):
        for item in node:
            _collect(item, found)


@cache
def recorded_records() -> dict[str, list[dict[str, Any]]]:
    """Every full entity record found in the cassettes and the ExQuickBooks fixtures, by entity."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted((QUICKBOOKS / "vcr").rglob("*.yml")):
        for body in cassette_bodies(str(path.relative_to(QUICKBOOKS / "vcr"))):
            _collect(body, found)
    for path in sorted((QUICKBOOKS / "exquickbooks-json").glob("*.json")):
        _collect(json.loads(path.read_text()), found)
    return dict(found)


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def flatten(record: Any, prefix: str = "", out: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Path -> JSON types, with `[]` for list items: {"Line[].SalesItemLineDetail.Qty": {"number"}}."""
    out = defaultdict(set) if out is None else out
    if prefix:
        out[prefix].add(json_type(record))
    if isinstance(record, dict):
        for key, value in record.items():
            flatten(value, f"{prefix}.{key}" if prefix else key, out)
    elif isinstance(record, list):
        for item in record:
            flatten(item, f"{prefix}[]", out)
    return out


def flatten_all(records: list[dict[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for record in records:
        flatten(record, out=out)
    return out


@cache
def _complex_types() -> dict[str, ET.Element]:
    types = {}
    for path in sorted((QUICKBOOKS / "xsd").glob("*.xsd")):
        for node in ET.parse(path).getroot().iter(f"{_XS}complexType"):
            if node.get("name"):
                types[node.get("name")] = node
    return types


def _members(node: ET.Element, names: set[str]) -> None:
    for child in node:
        if child.tag in (f"{_XS}element", f"{_XS}attribute"):
            if child.get("name"):
                names.add(child.get("name"))
        elif child.tag == f"{_XS}extension":
            names.update(xsd_fields(child.get("base", "")))
            _members(child, names)
        elif child.tag in (f"{_XS}sequence", f"{_XS}choice", f"{_XS}all", f"{_XS}complexContent"):
            _members(child, names)


@cache
def xsd_fields(type_name: str) -> frozenset[str]:
    """Element and attribute names of an XSD complex type, inherited ones included."""
    node = _complex_types().get(type_name)
    names: set[str] = set()
    if node is not None:
        _members(node, names)
    return frozenset(names)
