"""Readers for the recorded QuickBooks traffic and Intuit's XSD kept in tests/fixtures/reference/quickbooks."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from functools import cache
from typing import Any

import yaml

from tests.reference import REFERENCE

QUICKBOOKS = REFERENCE / "quickbooks"
_XS = "{http://www.w3.org/2001/XMLSchema}"
_ENTITY_NAMES = ("Customer", "Vendor", "Employee", "Item", "Account", "Invoice", "SalesReceipt", "Estimate",
                 "Payment", "Bill", "Purchase")


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


# -- field paths resolved through the XSD ---------------------------------------------------------------
_NUMBER_TYPES = frozenset({"decimal", "int", "integer", "long", "short", "double", "float", "positiveInteger",
                           "nonNegativeInteger"})


@cache
def _simple_bases() -> dict[str, str]:
    """Named simple types -> the xs: type they restrict (enumerations are strings)."""
    bases = {}
    for path in sorted((QUICKBOOKS / "xsd").glob("*.xsd")):
        for node in ET.parse(path).getroot().iter(f"{_XS}simpleType"):
            restriction = node.find(f"{_XS}restriction")
            if node.get("name") and restriction is not None:
                bases[node.get("name")] = restriction.get("base", "xs:string")
    return bases


def _local(type_name: str | None) -> str:
    return (type_name or "xs:string").split(":")[-1]


def _scalar(type_name: str | None) -> str:
    name = _local(type_name)
    seen = set()
    while name in _simple_bases() and name not in seen:
        seen.add(name)
        name = _local(_simple_bases()[name])
    if name in _NUMBER_TYPES:
        return "number"
    return "boolean" if name == "boolean" else "string"


def _child_elements(node: ET.Element, out: dict[str, ET.Element]) -> None:
    for child in node:
        if child.tag in (f"{_XS}element", f"{_XS}attribute"):
            if child.get("name"):
                out.setdefault(child.get("name"), child)
        elif child.tag == f"{_XS}extension":
            base = _complex_types().get(_local(child.get("base")))
            if base is not None:
                _child_elements(base, out)
            _child_elements(child, out)
        elif child.tag in (f"{_XS}sequence", f"{_XS}choice", f"{_XS}all", f"{_XS}complexContent",
                           f"{_XS}simpleContent"):
            _child_elements(child, out)


@cache
def _children(type_name: str) -> dict[str, tuple[str, bool]]:
    """Member name -> (its type, repeated?) for a complex type; simple content shows up as `value`."""
    node = _complex_types().get(type_name)
    if node is None:
        return {}
    members: dict[str, ET.Element] = {}
    _child_elements(node, members)
    out = {name: (_local(el.get("type")), el.get("maxOccurs") == "unbounded") for name, el in members.items()}
    content = node.find(f"{_XS}simpleContent")
    if content is not None:
        # JSON writes an element's text content as "value" (ReferenceType, MemoRef).
        out.setdefault("value", ("string", False))
    return out


def xsd_json_types(entity: str, path: str) -> set[str] | None:
    """JSON types Finance.xsd allows at a flattened path ("Line[].SalesItemLineDetail.Qty"), or None when
    the XSD does not declare the path. Below an IntuitAnyType (the *Ex fields) anything goes."""
    current, repeated = entity, False
    parts = path.split(".")
    for index, raw in enumerate(parts):
        if current == "IntuitAnyType":
            return {"array", "object", "string", "number", "boolean", "null"}
        member = _children(current).get(raw.removesuffix("[]"))
        if member is None or (raw.endswith("[]") and not member[1]):
            return None
        current, repeated = member
        if index == len(parts) - 1:
            if repeated and not raw.endswith("[]"):
                return {"array"}
            return {"object"} if current in _complex_types() else {_scalar(current)}
    return None
