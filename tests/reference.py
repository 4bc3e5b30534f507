"""Reading the real recorded traffic kept in tests/fixtures/reference (VCR cassettes, see its README) for tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

# Copies of public recordings with their provenance (tests/fixtures/reference/README.md): the repository stands alone.
REFERENCE = Path(__file__).resolve().parent / "fixtures" / "reference"


@dataclass(frozen=True)
class Recorded:
    method: str
    uri: str
    status: int
    headers: dict[str, str]
    body: bytes


def cassette(relative: str) -> list[Recorded]:
    """Every interaction of one cassette, e.g. cassette("quickbooks/vcr/error/401.yml")."""
    path = REFERENCE / relative
    doc = yaml.safe_load(path.read_text())
    out = []
    for interaction in doc["http_interactions"]:
        response = interaction["response"]
        headers = {k: (v[0] if isinstance(v, list) else v) for k, v in (response.get("headers") or {}).items()}
        body = response["body"].get("string") or ""
        out.append(Recorded(
            method=interaction["request"]["method"].upper(),
            uri=interaction["request"]["uri"],
            status=int(response["status"]["code"]),
            headers=headers,
            body=body.encode() if isinstance(body, str) else body,
        ))
    return out
