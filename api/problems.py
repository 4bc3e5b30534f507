"""One error shape for the whole API: RFC 9457 problem details with a stable machine-readable code.

Routes raise `Problem`; `install(app)` turns it, FastAPI's validation errors, oversized or malformed
bodies and any unexpected exception into `application/problem+json`. Codes are part of the contract
(documented in docs/API.md): integrations branch on `code`, people read `detail`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

PROBLEM_TYPE_BASE = "https://bizmetrics.dev/problems/"
MEDIA_TYPE = "application/problem+json"


class ProblemBody(BaseModel):
    """The documented error body (RFC 9457) every 4xx and 5xx carries."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None


class Problem(Exception):
    """An error the caller gets as problem details; `code` is stable, `detail` says what to do."""

    def __init__(self, status: int, code: str, detail: str, *, title: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or code.replace("_", " ").capitalize()
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + self.code, "title": self.title, "status": self.status,
                                "detail": self.detail, "code": self.code}
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def not_found(what: str, ident: str, hint: str) -> Problem:
    """404 for an unknown id or name, the same way everywhere."""
    return Problem(404, f"{what}_not_found", f"No {what.replace('_', ' ')} {ident!r}; {hint}")
