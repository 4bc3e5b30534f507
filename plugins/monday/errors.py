"""Judging monday responses: every error shape monday uses becomes ok / retry / throttle / fail with an
actionable message.

Shapes (recorded in tests/fixtures/reference/monday/vcr, or documented in api-facts): `errors[]` with
`extensions.code` inside an HTTP 200, often with partial `data`; the pre-2024-10 top-level body
`{error_code, error_message, status_code}` sent with that HTTP status; the internal error entry that says
`extensions.error_code` (sic); 401 as `["Not Authenticated"]` or `NOT_AUTHENTICATED`; limit errors as
HTTP 429 with `retry_in_seconds` (only `{code, retry_in_seconds}` from 2025-07) and a Retry-After header;
validation errors without any code; a cut-off body; the edge's plain-text 504.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shared.core.http import Response, Verdict

# Budget codes: wait as long as monday says (the daily cap resets at 00:00 UTC).
THROTTLE_CODES = frozenset({"COMPLEXITY_BUDGET_EXHAUSTED", "ComplexityException", "RATE_LIMIT_EXCEEDED",
                            "DAILY_LIMIT_EXCEEDED", "IP_RATE_LIMIT_EXCEEDED", "API_TEMPORARILY_BLOCKED",
                            "RateLimitExceeded", "DailyLimitExceeded"})
# Worth asking again at once (with the client's backoff).
TRANSIENT_CODES = frozenset({"INTERNAL_SERVER_ERROR", "InternalServerError", "maxConcurrencyExceeded"})
AUTH_CODES = frozenset({"NOT_AUTHENTICATED", "Unauthorized"})
FORBIDDEN_CODES = frozenset({"USER_UNAUTHORIZED", "UserUnauthorizedException"})
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "InvalidBoardIdException", "InvalidItemIdException",
                             "InvalidColumnIdException", "InvalidGroupIdException"})
CURSOR_CODE = "CursorException"
DEFAULT_THROTTLE_SECONDS = 60.0
_RESET_IN = re.compile(r"reset in (\d+) seconds")


@dataclass(frozen=True)
class MondayError:
    """One error of a response, whatever envelope it came in."""

    code: str
    message: str
    status: int | None = None
    retry_in_seconds: float | None = None
    path: tuple[Any, ...] = ()

    def describe(self) -> str:
        where = f" at {'.'.join(str(p) for p in self.path)}" if self.path else ""
        return f"{self.code}: {self.message}{where}"


def _entry(raw: Any) -> MondayError:
    if not isinstance(raw, dict):
        # 2024's 401: {"errors": ["Not Authenticated"]}
        text = str(raw)
        return MondayError("NOT_AUTHENTICATED" if "authenticat" in text.lower() else "ERROR", text)
    ext = raw.get("extensions") if isinstance(raw.get("extensions"), dict) else {}
    # The internal error entry names its code `error_code`; validation errors carry none at all.
    code = ext.get("code") or ext.get("error_code") or "GRAPHQL_VALIDATION_FAILED"
    retry = ext.get("retry_in_seconds")
    status = ext.get("status_code")
    return MondayError(str(code), str(raw.get("message") or ""), int(status) if isinstance(status, int) else None,
                       float(retry) if isinstance(retry, int | float) else None, tuple(raw.get("path") or ()))


def errors_of(doc: Any) -> list[MondayError]:
    """Every error in a parsed body: the errors[] list, or the legacy top-level error_code form."""
    if not isinstance(doc, dict):
        return []
    if "error_code" in doc or "error_message" in doc:
        message = str(doc.get("error_message") or "")
        found = _RESET_IN.search(message)
        status = doc.get("status_code")
        return [MondayError(str(doc.get("error_code") or "ERROR"), message,
                            int(status) if isinstance(status, int) else None,
                            float(found.group(1)) if found else None)]
    raw = doc.get("errors")
    return [_entry(e) for e in raw] if isinstance(raw, list) else []


def _retry_after(error: MondayError, response: Response) -> float:
    if error.retry_in_seconds:
        return max(1.0, error.retry_in_seconds)
    header = response.retry_after()
    return DEFAULT_THROTTLE_SECONDS if header is None else max(1.0, header)


def _throttle(error: MondayError, response: Response) -> Verdict:
    wait = _retry_after(error, response)
    if error.code in ("DAILY_LIMIT_EXCEEDED", "DailyLimitExceeded"):
        why = "the account's daily API call cap is used up; syncing resumes after 00:00 UTC"
    elif error.code in ("COMPLEXITY_BUDGET_EXHAUSTED", "ComplexityException"):
        why = "the account's complexity budget for this minute is used up"
    else:
        why = "monday rate-limited the account"
    return Verdict("throttle", f"{why} ({error.describe()})", retry_after=wait, code=error.code)


def _fail(error: MondayError, others: str) -> Verdict:
    if error.code in AUTH_CODES:
        text = "monday refused the API token (not authenticated): put a valid token in the connection's secret"
    elif error.code in FORBIDDEN_CODES:
        text = ("the token's user may not read this (USER_UNAUTHORIZED): share the board with that user or "
                "remove it from the connection's boards")
    elif error.code in NOT_FOUND_CODES:
        text = f"monday no longer has what was asked for ({error.code}); it was deleted or is not visible"
    elif error.code == CURSOR_CODE:
        text = "the items cursor expired or is invalid"
    elif error.code == "maxComplexityExceeded":
        text = "the query is too complex for one call: lower item_page_size in the connection's settings"
    elif error.code in ("GRAPHQL_VALIDATION_FAILED", "undefinedField"):
        text = "monday rejected the query: the pinned api_version may not have these fields"
    else:
        text = "monday rejected the request"
    return Verdict("fail", f"{text} ({others})", code=error.code)


def _verdict_for(found: list[MondayError], response: Response) -> Verdict:
    others = "; ".join(e.describe() for e in found)[:1000]
    for error in found:
        if error.code in THROTTLE_CODES or (error.status == 429 and error.code not in TRANSIENT_CODES):
            return _throttle(error, response)
    for error in found:
        if error.code in TRANSIENT_CODES or (error.status or 0) >= 500:
            return Verdict("retry", f"monday server error ({others})", code=error.code)
    fatal = next((e for e in found if e.code in AUTH_CODES | FORBIDDEN_CODES), found[0])
    return _fail(fatal, others)


def classify(response: Response) -> Verdict:
    """ok / retry / throttle / fail for one monday response."""
    try:
        # Parsed once: the client reads the same document (Response.json).
        doc = response.json() if response.body.strip() else None
    except ValueError:  # not JSON, or not UTF-8
        doc = None
        if response.status == 200 or response.status >= 500:
            # A cut-off body or the edge's plain-text 504 is a transport accident: ask again.
            return Verdict("retry", f"monday sent an unreadable body (HTTP {response.status})")
    found = errors_of(doc)
    if found:
        return _verdict_for(found, response)
    if response.status == 429:
        return _throttle(MondayError("RATE_LIMIT_EXCEEDED", "HTTP 429"), response)
    if response.status == 401:
        return _fail(MondayError("NOT_AUTHENTICATED", "HTTP 401"), "HTTP 401")
    if response.status >= 500:
        return Verdict("retry", f"monday server error (HTTP {response.status})")
    if response.status >= 400 or not isinstance(doc, dict):
        return Verdict("fail", f"monday answered HTTP {response.status} without a GraphQL body",
                       code=str(response.status))
    if "data" not in doc:
        return Verdict("retry", "monday answered without data")
    return Verdict.ok()
