"""One HTTP client for every plugin: retries with backoff, throttle hints, call counting, a rate governor.

Plugins differ only in how a response is judged (`Classifier`): a source may hide faults inside a
200, or answer XML where JSON was asked for. The loop around it is shared.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import Any, Protocol

import aiohttp

from shared.core import fastjson

MAX_ERROR_TEXT = 2000


class Throttled(Exception):
    """The source asked us to wait; the orchestrator waits on a durable timer, not the activity."""

    def __init__(self, retry_after: float, reason: str) -> None:
        super().__init__(f"throttled for {retry_after:.0f} s: {reason}")
        self.retry_after = retry_after
        self.reason = reason


class ApiError(Exception):
    """A request that failed for good (bad credentials, a rejected query...); the message says what to do."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 transient: bool = False) -> None:
        super().__init__(message[:MAX_ERROR_TEXT])
        self.status = status
        self.code = code
        self.transient = transient


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body as JSON, parsed once however often it is asked for: the classifier reads it for faults and the
        plugin for its records (a 1,000-invoice page is 1.6 MB, 28 ms with the standard library, 18 with orjson).
        ValueError when it is not JSON (json.JSONDecodeError, or UnicodeDecodeError for bytes that are not UTF-8)."""
        return self._document

    @cached_property
    def _document(self) -> Any:
        return fastjson.loads(self.body)

    def retry_after(self, now: dt.datetime | None = None) -> float | None:
        """The Retry-After header in seconds (see retry_after_seconds); None when absent or unreadable."""
        value = next((v for k, v in self.headers.items() if k.lower() == "retry-after"), None)
        return retry_after_seconds(value, now=now)


def retry_after_seconds(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait by a Retry-After value (RFC 9110 section 10.2.3): delta-seconds ("120") or an HTTP-date
    ("Wed, 21 Oct 2015 07:28:00 GMT"; the obsolete RFC 850 and asctime forms too), counted from `now`.

    None when absent or unreadable (the caller falls back to its own wait); a date already past is 0.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # HTTP-dates are always GMT; asctime carries no zone
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


@dataclass(frozen=True)
class Verdict:
    """What a classifier decided about one response."""

    kind: str  # "ok" | "retry" | "throttle" | "fail" | "reauth" (credentials expired: renew them, ask again)
    message: str = ""
    retry_after: float = 0.0
    code: str | None = None

    @staticmethod
    def ok() -> Verdict:
        return Verdict("ok")


Classifier = Callable[[Response], Verdict]


@dataclass
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    timeout: float = 60.0

    @classmethod
    def from_config(cls, config: dict[str, Any], *, timeout: float) -> RetryPolicy:
        """A connection's overrides (retry_attempts, retry_base_delay, request_timeout) over the defaults."""
        return cls(attempts=int(config.get("retry_attempts", cls.attempts)),
                   base_delay=float(config.get("retry_base_delay", cls.base_delay)),
                   timeout=float(config.get("request_timeout", timeout)))


class Governor(Protocol):
    """Asked before every attempt: waits briefly for a free slot or raises Throttled (RateGovernor is one). An
    `urgent` request may go ahead of ordinary ones the governor holds back, and an ordinary one with a longer
    `path` (calls known to follow it, one after another, before its stream ends) ahead of those with a shorter one
    (take_turn, lead_of)."""

    async def acquire(self, *, urgent: bool = False, path: int = 0) -> None: ...


# How many new reservations a send that woke up late on its slot takes before it goes late anyway (a process that
# misses four slots in a row is starved for seconds; the windows, counting every slot taken, stay kept).
LATE_RESERVATIONS = 3


async def send_on_time(reserve: Callable[[], Awaitable[tuple[float, float]]], *, clock: Callable[[], float],
                       sleep: Callable[[float], Awaitable[None]], late_margin: float | None) -> None:
    """Wait for a reserved send time and, when the wait ends more than `late_margin` seconds after it, reserve again
    instead of sending late. `reserve` returns the reserved time on `clock` as (earliest, latest) it can be (one
    time, or a span when the reservation was timed by another clock): the wait lasts until the latest, never
    sending early, and lateness counts from the earliest, never hiding it.

    A send that goes out late (its thread waited for a CPU, or its event loop was busy) bunches with the sends
    reserved after it: the source, which counts arrivals, then sees more in its window than the governor let out
    (docs/SCALING.md, the 429s). The late slot stays counted, as if it had been used: the windows only get more
    cautious. None: no check, a late send goes as it is."""
    for attempt in range(LATE_RESERVATIONS + 1):
        earliest, latest = await reserve()
        wait = latest - clock()
        if wait > 0:
            await sleep(wait)
        if late_margin is None or attempt == LATE_RESERVATIONS or clock() - earliest <= late_margin:
            return


# What a governor's reserve step answers: the send time it reserved, as (earliest, latest) on the clock, or, when
# the first free send time is further away than it was allowed to reserve, how far away that is (nothing reserved).
Reservation = tuple[float, float] | float


def lead_of(horizon: float | None, *, urgent: bool, path: int) -> float | None:
    """How far ahead a request may reserve its send (take_turn); None: as far as its max_sleep.

    Ordinary requests hold at most `horizon` of the budget ahead, and a request with a longer path ahead of it
    proportionally more: horizon x (1 + path). Among requests that wait anyway, the one whose stream has the most
    calls left to make one after another goes first (the longest remaining path first, which ends a sync's streams
    together instead of leaving one with several seconds of calls after the others have ended); the budget's rate
    does not change."""
    if urgent or horizon is None:
        return None
    return horizon * (1 + max(path, 0))


async def take_turn(reserve: Callable[[float], Awaitable[Reservation]], *, lead: float | None,
                    max_sleep: float, sleep: Callable[[float], Awaitable[None]], reason: str) -> tuple[float, float]:
    """A send time from `reserve(within)`, which reserves the first free one when it is at most `within` seconds
    away. A request with no `lead` (urgent, or a governor without a horizon) takes it up to `max_sleep` away. One
    with a lead takes it only up to that far away: further, it sleeps until the queue of reserved sends has
    shortened to its lead and asks again, so it never holds more than its lead of the budget ahead and a request
    with a longer lead arriving meanwhile goes after at most that much (a sync's critical path: what it waits on
    longest). Either raises Throttled when its send would go more than `max_sleep` after it first asked: the wait
    becomes a durable timer. The budget's rate is the same; only who goes first changes, among requests waiting
    anyway."""
    waited = 0.0
    while True:
        left = max(0.0, max_sleep - waited)
        within = left if lead is None else min(lead, left)
        got = await reserve(within)
        if isinstance(got, tuple):
            return got
        if got > left:
            raise Throttled(got, reason)
        await sleep(got - within)
        waited += got - within


class RateGovernor:
    """Sliding-window limits (e.g. 10/s and 500/min); short waits sleep, long ones become a Throttled hint.

    Shared by every activity of a process for one account, so its bookkeeping takes a thread lock
    (activities may run on different threads and event loops) and reserves a slot before sleeping. With a
    `late_margin`, a send that wakes up later than that after its slot reserves another (send_on_time).
    """

    def __init__(self, limits: list[tuple[int, float]], *, max_sleep: float = 2.0,
                 clock: Callable[[], float] = time.monotonic, late_margin: float | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, horizon: float | None = None) -> None:
        self.limits = limits
        self._windows: list[deque[float]] = [deque() for _ in limits]
        self._max_sleep = max_sleep
        self._clock = clock
        self._late_margin = late_margin
        self._sleep = sleep
        self._horizon = horizon  # how far ahead an ordinary request may reserve (take_turn); None: as urgent ones
        self._lock = threading.Lock()

    def _reserve(self, within: float) -> Reservation:
        """The send time reserved on the clock, or how far away the first free one is when beyond `within`."""
        with self._lock:
            now = self._clock()
            wait = 0.0
            for (count, period), window in zip(self.limits, self._windows, strict=True):
                while window and window[0] <= now - period:
                    window.popleft()
                if len(window) >= count:
                    wait = max(wait, window[-count] + period - now)
            if wait > within:
                return wait
            for window in self._windows:
                window.append(now + wait)
            return now + wait, now + wait

    async def _reserved(self, within: float) -> Reservation:
        return self._reserve(within)

    async def acquire(self, *, urgent: bool = False, path: int = 0) -> None:
        async def turn() -> tuple[float, float]:
            return await take_turn(self._reserved, lead=lead_of(self._horizon, urgent=urgent, path=path),
                                   max_sleep=self._max_sleep, sleep=self._sleep, reason="local request budget used up")
        await send_on_time(turn, clock=self._clock, sleep=self._sleep, late_margin=self._late_margin)


@dataclass
class ApiClient:
    """Sends requests through the governor and retries transient failures; counts every call made."""

    session: aiohttp.ClientSession
    classify: Classifier
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    governor: Governor | None = None
    calls: int = 0
    redact: tuple[str, ...] = ()
    # Renews expired credentials (e.g. refreshes an OAuth access token and sets the session's header) and
    # returns the new secret, to be redacted too. Called at most once per request, on a "reauth" verdict.
    reauthorize: Callable[[], Awaitable[str]] | None = None

    def _clean(self, text: str) -> str:
        for secret in self.redact:
            if secret:
                text = text.replace(secret, "***")
        return text[:MAX_ERROR_TEXT]

    async def request(self, method: str, url: str, *, urgent: bool = False, path: int = 0,
                      **kwargs: Any) -> Response:
        """The response once the classifier accepts it. `urgent`: the governor lets this request go ahead of
        ordinary ones it holds back (take_turn), e.g. the requests a sync's longest chain of calls waits on; `path`:
        the calls known to follow this one, one after another, before its stream ends (lead_of)."""
        last_problem = "no attempt made"
        renewed = False
        attempt = 0
        while attempt < self.policy.attempts:
            attempt += 1
            if self.governor:
                await self.governor.acquire(urgent=urgent, path=path)
            self.calls += 1
            try:
                # Never follow a redirect: the request carries the connection's credentials, and a source API
                # that answers 3xx is treated as the failure it is (the connection's hosts are checked once, in
                # shared/core/egress.py; a redirect would take the token somewhere unchecked).
                async with self.session.request(
                    method, url, timeout=aiohttp.ClientTimeout(total=self.policy.timeout),
                    **{"allow_redirects": False, **kwargs},
                ) as raw:
                    body = await raw.read()
                    response = Response(raw.status, dict(raw.headers), body)
            except (TimeoutError, aiohttp.ClientError) as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            else:
                verdict = self.classify(response)
                if verdict.kind == "ok":
                    return response
                if verdict.kind == "throttle":
                    raise Throttled(verdict.retry_after, self._clean(verdict.message))
                if verdict.kind == "reauth" and self.reauthorize is not None and not renewed:
                    renewed = True
                    self.redact = (*self.redact, await self.reauthorize())
                    attempt -= 1  # asked again at once: not one of the attempts transient failures may use
                    continue
                if verdict.kind in ("fail", "reauth"):
                    again = " (refused again after renewing the credentials)" if renewed else ""
                    raise ApiError(self._clean(verdict.message + again), status=response.status, code=verdict.code)
                last_problem = verdict.message
            if attempt < self.policy.attempts:
                delay = min(self.policy.max_delay, self.policy.base_delay * 2 ** (attempt - 1))
                await asyncio.sleep(delay * (0.5 + random.random() / 2))
        raise ApiError(
            self._clean(f"{method} {url.split('?')[0]} failed after {self.policy.attempts} attempts: {last_problem}"),
            transient=True,
        )
