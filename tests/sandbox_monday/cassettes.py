"""Reading the recorded monday traffic (tests/fixtures/reference/monday/vcr) with requests and responses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import yaml
from graphql import OperationDefinitionNode, OperationType, parse

from tests.reference import REFERENCE

VCR = REFERENCE / "monday" / "vcr"


@dataclass(frozen=True)
class Interaction:
    document: str
    token: str
    status: int
    headers: dict[str, str]
    body: Any
    recorded_at: datetime

    @property
    def is_query(self) -> bool:
        operations = [d for d in parse(self.document).definitions if isinstance(d, OperationDefinitionNode)]
        return all(op.operation == OperationType.QUERY for op in operations)

    @property
    def api_version(self) -> str | None:
        return self.headers.get("Api-Version")


def _first(value: Any) -> str:
    return str(value[0] if isinstance(value, list) else value)


def load(path: Path) -> list[Interaction]:
    doc = yaml.safe_load(path.read_text())
    out = []
    for interaction in doc["http_interactions"]:
        request, response = interaction["request"], interaction["response"]
        out.append(Interaction(
            document=json.loads(request["body"]["string"])["query"],
            token=_first(request["headers"].get("Authorization", "")),
            status=int(response["status"]["code"]),
            headers={k: _first(v) for k, v in (response.get("headers") or {}).items()},
            body=json.loads(response["body"]["string"]),
            recorded_at=parsedate_to_datetime(interaction["recorded_at"])))
    return out


def all_cassettes() -> dict[str, list[Interaction]]:
    return {str(p.relative_to(VCR)): load(p) for p in sorted(VCR.rglob("*.yml"))}


def version_of(name: str, cassettes: dict[str, list[Interaction]]) -> str:
    """The API version a cassette was recorded with: its own Api-Version header, else (401s and validation
    errors carry none) the version of the recording made closest in time."""
    own = next((i.api_version for i in cassettes[name] if i.api_version), None)
    if own is not None:
        return own
    moment = cassettes[name][0].recorded_at
    dated = [(abs((i.recorded_at - moment).total_seconds()), i.api_version)
             for interactions in cassettes.values() for i in interactions if i.api_version]
    return min(dated)[1] or ""
