"""HTTP responses with the headers monday sends (recorded: Api-Version, X-Request-Id, the content types)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .limits import Budget
from .versions import ApiVersion

JSON = "application/json"
JSON_UTF8 = "application/json; charset=utf-8"  # the auth layer's 401s


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def raw(body: bytes | str, *, status: int, content_type: str, headers: dict[str, str] | None = None) -> web.Response:
    data = body.encode() if isinstance(body, str) else body
    return web.Response(body=data, status=status, headers={"Content-Type": content_type, **(headers or {})})


def reply(payload: Any, *, status: int, version: ApiVersion | None, request_id: str | None,
          headers: dict[str, str] | None = None, content_type: str | None = None) -> web.Response:
    """`version` / `request_id` None leave out Api-Version / X-Request-Id (monday omits them on some errors)."""
    merged: dict[str, str] = {}
    if version is not None:
        merged["Api-Version"] = version.value
    if request_id is not None:
        merged["X-Request-Id"] = request_id
    merged.update(headers or {})
    chosen = content_type or JSON
    return raw(encode(payload), status=status, content_type=chosen, headers=merged)


def rate_limit_headers(budget: Budget, account_id: str, seconds_to_midnight: int) -> dict[str, str]:
    """IETF draft RateLimit / RateLimit-Policy fields for the daily and per-minute call limits.

    monday documents that every response carries both headers; no recording of their syntax exists in the
    reference kit, so the structured-field syntax of draft-ietf-httpapi-ratelimit-headers is used.
    """
    limits = budget.limits
    policy: list[str] = []
    current: list[str] = []
    if limits.daily_calls is not None:
        policy.append(f'"daily";q={limits.daily_calls};w=86400')
        left = max(0, limits.daily_calls - budget.calls_today(account_id))
        current.append(f'"daily";r={left};t={seconds_to_midnight}')
    minute = budget.minute_remaining(account_id)
    if limits.per_minute is not None and minute is not None:
        policy.append(f'"minute";q={limits.per_minute};w=60')
        current.append(f'"minute";r={minute[0]};t={minute[1]}')
    if not policy:
        return {}
    return {"RateLimit-Policy": ", ".join(policy), "RateLimit": ", ".join(current)}


def truncate(response: web.Response) -> web.Response:
    """A 200 whose JSON stops half-way: complete as HTTP, broken as JSON (the "malformed" fault)."""
    body = response.body if isinstance(response.body, bytes) else b"{}"
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-type", "content-length")}
    return raw(body[: max(1, len(body) // 2)], status=response.status,
               content_type=response.headers.get("Content-Type", JSON), headers=headers)
