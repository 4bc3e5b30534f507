"""Bounds on what a caller can send: body size, and text that PostgreSQL and the logs can hold.

Applied before any route runs (the body cap) and in every model's string fields (`SafeText`), so hostile input
is a 4xx at the edge and never reaches a driver that would turn it into a 500."""

from __future__ import annotations

import json
import logging
import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import MEDIA_TYPE, Problem
from shared.core.logcontext import request_scope

access_log = logging.getLogger("bizmetrics.api.access")

MAX_BODY_BYTES = 64 * 1024
# C0 controls but tab, newline and carriage return, DEL, and lone surrogates (invalid in UTF-8 and in
# PostgreSQL text); NUL is among the controls.
_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _safe(value: str) -> str:
    if _UNSAFE.search(value):
        raise ValueError("must not contain control characters, NUL or unpaired surrogates")
    return value


SafeText = Annotated[str, StringConstraints(max_length=500), AfterValidator(_safe)]


class BodyLimit:
    """ASGI middleware: 413 for a body over the cap, whether declared by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await _too_large(send, self.limit)
                return
        # Read the body first (it is small by definition) so an oversized stream is refused before any route
        # or parser sees it, then hand the app the buffered body.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await _too_large(send, self.limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(Problem(413, "body_too_large", f"The request body is over {limit} bytes").body()).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class AccessLog:
    """ASGI middleware: one log line per request with method, path, status and the caller's actor string (set by
    api.auth once it has authenticated the request); never the query string, headers or body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def noted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with request_scope():
            try:
                await self.app(scope, receive, noted)
            finally:
                principal = scope.get("state", {}).get("principal")
                access_log.info("%s %s -> %s (%s)", scope["method"], scope["path"], status,
                                getattr(principal, "actor", "anonymous"))
