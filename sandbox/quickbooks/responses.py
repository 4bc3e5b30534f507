"""HTTP responses with the headers QBO sends (exact content types matter to careful clients)."""

from __future__ import annotations

import itertools
import json
from typing import Any

from aiohttp import web

JSON_OK = "application/json;charset=utf-8"
JSON_ERROR = "application/json"  # QBO's error responses carry no charset
_tids = itertools.count(1)


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def raw(body: bytes | str, *, status: int = 200, content_type: str = JSON_OK,
        headers: dict[str, str] | None = None) -> web.Response:
    data = body.encode() if isinstance(body, str) else body
    # intuit_tid identifies a request in Intuit support cases; clients log it.
    merged = {"Content-Type": content_type, "intuit_tid": f"1-sim-{next(_tids):08d}",
              "Cache-Control": "max-age=0, no-cache, no-store, must-revalidate, private", **(headers or {})}
    return web.Response(body=data, status=status, headers=merged)


def reply(payload: Any, *, status: int = 200, content_type: str | None = None,
          headers: dict[str, str] | None = None) -> web.Response:
    chosen = content_type or (JSON_OK if status < 400 else JSON_ERROR)
    return raw(encode(payload), status=status, content_type=chosen, headers=headers)
