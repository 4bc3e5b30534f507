"""Trigger payloads for HTTP and timer functions, built as the worker builds them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
from azure.functions.timer import TimerRequest

ROUTE_PREFIX = "api"  # host.json's default extensions.http.routePrefix


def http_request(trigger: Any, method: str, url: str, body: bytes | str | None,
                 params: Mapping[str, str] | None, route_params: Mapping[str, str] | None,
                 headers: Mapping[str, str] | None) -> func.HttpRequest:
    """A func.HttpRequest; query params come from the URL and route params from the trigger's route."""
    parts = urlsplit(url)
    if params is None:
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if route_params is None:
        route_params = match_route(getattr(trigger, "route", None) or "", parts.path)
    data = body.encode() if isinstance(body, str) else (body or b"")
    return func.HttpRequest(method.upper(), url, headers=dict(headers or {}), params=dict(params),
                            route_params=dict(route_params), body=data)


def match_route(route: str, path: str) -> dict[str, str]:
    """Values of `{name}` segments of an HTTP trigger route for a request path ({} if it does not match)."""
    path = path.strip("/")
    if path.startswith(ROUTE_PREFIX + "/") or path == ROUTE_PREFIX:
        path = path[len(ROUTE_PREFIX):].strip("/")
    pattern = ""
    for segment in route.strip("/").split("/"):
        if not segment:
            continue
        piece = re.match(r"^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]*)?(\?)?\}$", segment)
        if piece is None:
            pattern += "/" + re.escape(segment)
            continue
        catch_all, name, optional = piece.groups()
        body = rf"(?P<{name}>.*)" if catch_all else rf"(?P<{name}>[^/]+)"
        pattern += rf"(?:/{body})?" if optional or catch_all else "/" + body
    found = re.fullmatch(pattern, "/" + path if path else "")
    if found is None:
        return {}
    return {k: v for k, v in found.groupdict().items() if v is not None}


def timer_request(past_due: bool = False) -> TimerRequest:
    """The TimerRequest a timer trigger receives."""
    return TimerRequest(past_due=past_due, schedule_status={}, schedule={"AdjustForDST": True})


def as_http_response(value: Any) -> func.HttpResponse:
    """What the worker does with an HTTP function's return value ($return binding)."""
    if isinstance(value, func.HttpResponse):
        return value
    if value is None:
        return func.HttpResponse(status_code=204)
    if isinstance(value, str | bytes):
        return func.HttpResponse(value)
    raise TypeError(f"HTTP function returned {type(value).__name__}, not an HttpResponse")
