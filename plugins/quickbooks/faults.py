"""Judging QuickBooks responses: every fault shape Intuit sends (Fault, fault, a Fault in a 200, XML)."""

from __future__ import annotations

import re
from typing import Any

from shared.core.http import Response, Verdict

THROTTLE_CODES = {"3001"}
AUTHENTICATION_CODES = {"3200"}  # the access token is expired or invalid: a refreshed one may do
AUTHORIZATION_CODES = {"3100"}  # the token is fine but may not read this company
THROTTLE_WAIT_SECONDS = 60.0


def _fault_errors(doc: Any) -> tuple[list[dict[str, Any]], str] | None:
    """The errors of a JSON fault in either casing, with the fault type; None when there is no fault."""
    if not isinstance(doc, dict):
        return None
    fault = doc.get("Fault") or doc.get("fault")
    if not isinstance(fault, dict):
        return None
    errors = fault.get("Error") or fault.get("error") or []
    normalised = [
        {
            "code": str(e.get("code", "")),
            "message": e.get("Message") or e.get("message") or "",
            "detail": e.get("Detail") or e.get("detail") or "",
        }
        for e in errors
        if isinstance(e, dict)
    ]
    return normalised, str(fault.get("type", ""))


def _xml_errors(body: str) -> list[dict[str, Any]]:
    errors = []
    for match in re.finditer(r"<Error[^>]*code=\"(\d+)\"[^>]*>(.*?)</Error>", body, re.S):
        message = re.search(r"<Message>(.*?)</Message>", match.group(2), re.S)
        detail = re.search(r"<Detail>(.*?)</Detail>", match.group(2), re.S)
        errors.append({
            "code": match.group(1),
            "message": message.group(1).strip() if message else "",
            "detail": detail.group(1).strip() if detail else "",
        })
    return errors


def _describe(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{e['code']} {e['message']}: {e['detail']}".strip() for e in errors) or "no detail given"


def _verdict_for(status: int, errors: list[dict[str, Any]], retry_after: float) -> Verdict:
    codes = {e["code"] for e in errors}
    text = _describe(errors)
    if status == 429 or codes & THROTTLE_CODES:
        return Verdict("throttle", f"QuickBooks throttled the request ({text})", retry_after=retry_after, code="3001")
    if status == 401 or codes & AUTHENTICATION_CODES:
        # An access token lives an hour and can expire during a fetch: refresh it and ask again (shared.core.http).
        return Verdict("reauth", f"QuickBooks refused the access token ({text})", code="3200")
    if status == 403 or codes & AUTHORIZATION_CODES:
        return Verdict(
            "fail",
            f"QuickBooks refused access to this company ({text}); reconnect this company",
            code=next(iter(codes & AUTHORIZATION_CODES), str(status)),
        )
    if status >= 500:
        return Verdict("retry", f"QuickBooks server error {status} ({text})")
    return Verdict("fail", f"QuickBooks rejected the request ({text})", code=next(iter(codes), str(status)))


def classify(response: Response, *, throttle_wait: float = THROTTLE_WAIT_SECONDS) -> Verdict:
    """ok / retry / throttle / fail for one QuickBooks response."""
    header = response.retry_after()
    retry_after = throttle_wait if header is None else max(header, 1.0)
    # Intuit has answered a JSON request with an XML fault: trust the body, not the Accept header.
    if "xml" in response.content_type or response.body.lstrip().startswith(b"<"):
        errors = _xml_errors(response.body.decode("utf-8", errors="replace"))
        if errors or response.status >= 400:
            return _verdict_for(response.status, errors, retry_after)
        return Verdict("retry", "QuickBooks answered XML where JSON was asked")
    if response.status == 429:
        return _verdict_for(429, [], retry_after)
    try:
        # Parsed once: the plugin reads the same document (Response.json).
        doc = response.json() if response.body.strip() else None
    except ValueError:  # not JSON, or not UTF-8
        if response.status >= 500 or response.status == 200:
            # A cut-off body is a transport accident: ask again.
            return Verdict("retry", f"QuickBooks sent a malformed JSON body (HTTP {response.status})")
        return Verdict("fail", f"QuickBooks answered HTTP {response.status} with a non-JSON body")
    fault = _fault_errors(doc)
    if fault is not None:
        return _verdict_for(response.status, fault[0], retry_after)
    if response.status >= 500:
        return Verdict("retry", f"QuickBooks server error {response.status}")
    if response.status >= 400:
        return Verdict("fail", f"QuickBooks answered HTTP {response.status}")
    if doc is None:
        return Verdict("retry", "QuickBooks sent an empty body")
    return Verdict.ok()
