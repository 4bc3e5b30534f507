"""Webhook delivery every simulator shares: an outbox that posts signed notifications from a background
thread, batches what a short window gathers, retries a receiver that does not answer 2xx (bounded),
misbehaves on demand (duplicate, out of order, delayed, wrongly signed) and records every attempt.

A simulator supplies the subscription side: what an event looks like, how a body is encoded and signed
(a `Channel`), and when its data changed. Publishing only appends to a list, so the request that changed
the data never waits for a receiver; `flush()` waits until everything due has been delivered or given up.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .faults import FaultQueue, QueuedFault

# A signer turns (raw body, secret, target URL) into the headers that sign it.
Signer = Callable[[bytes, str, str], dict[str, str]]
# An encoder turns the events of one POST and its attempt number (1 = first) into the raw body.
Encoder = Callable[[list[dict[str, Any]], int], bytes]

WEBHOOK_FAULT_KINDS = frozenset({"duplicate", "out_of_order", "delay", "bad_signature"})
DEFAULT_DELAY_SECONDS = 0.3
WRONG_SECRET_PREFIX = "not-the-secret-"


@dataclass(frozen=True, eq=False)
class Channel:
    """One subscription's target: where to post, the secret that signs (None: unsigned), and how.

    `batched` channels gather the events of one batch window into one POST; others post each event alone.
    """

    url: str
    secret: str | None
    sign: Signer
    encode: Encoder
    batched: bool = False
    content_type: str = "application/json"


@dataclass
class WebhookFault(QueuedFault):
    seconds: float | None = None


class WebhookFaults(FaultQueue[WebhookFault]):
    """Misbehaviour queued for the next deliveries (one POST each), first in, first out.

    duplicate: the POST is sent twice (same body, same event ids); out_of_order: it is held back and sent
    after the next POST (or at a flush); delay: its first attempt waits `seconds` while later POSTs go ahead;
    bad_signature: it is signed with a wrong secret.
    """

    def __init__(self) -> None:
        super().__init__(WEBHOOK_FAULT_KINDS, hang_seconds=0.0)

    def inject(self, kind: str, count: int = 1, seconds: float | None = None) -> None:
        self._queue(WebhookFault(kind, count, None if seconds is None else float(seconds)))

    def _check(self, fault: WebhookFault) -> None:
        if fault.seconds is not None and (fault.kind != "delay" or fault.seconds < 0):
            raise ValueError("only a delay fault takes `seconds`, and not a negative one")

    def take(self) -> WebhookFault | None:
        return self._take_first(lambda _: True)


@dataclass
class Delivery:
    """One POST: its events, fixed when the batch is cut, and what a fault made of it."""

    id: int
    channel: Channel
    events: list[dict[str, Any]]
    attempt: int = 0
    duplicate_of: int | None = None
    forged: bool = False
    delayed: float | None = None
    held: bool = False


@dataclass
class Attempt:
    """What the receiver was sent and how it answered (no headers: they carry signatures and tokens)."""

    delivery: int
    attempt: int
    url: str
    kind: str
    events: list[dict[str, Any]]
    status: int | None
    error: str | None
    sent_at: str
    duplicate_of: int | None = None
    forged_signature: bool = False
    delayed_seconds: float | None = None
    out_of_order: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> dict[str, Any]:
        return {"delivery": self.delivery, "attempt": self.attempt, "url": self.url, "kind": self.kind,
                "status": self.status, "error": self.error, "ok": self.ok, "sent_at": self.sent_at,
                "duplicate_of": self.duplicate_of, "forged_signature": self.forged_signature,
                "delayed_seconds": self.delayed_seconds, "out_of_order": self.out_of_order,
                "events": self.events}


@dataclass
class OutboxSettings:
    """Timing in real seconds (the services' minutes are scaled down so tests stay quick).

    `retry_delays[i]` is the wait before retry i+1; its length bounds the retries.
    """

    batch_seconds: float = 0.05
    retry_delays: list[float] = field(default_factory=lambda: [0.1, 0.2, 0.3])
    timeout_seconds: float = 3.0

    def update(self, body: dict[str, Any]) -> None:
        """Change what `body` names; ValueError (nothing changed) when a value is not a valid one."""
        batch = float(body.get("batch_seconds", self.batch_seconds))
        timeout = float(body.get("timeout_seconds", self.timeout_seconds))
        delays = [float(d) for d in body.get("retry_delays", self.retry_delays)]
        if batch < 0 or timeout <= 0 or any(d < 0 for d in delays) or len(delays) > 100:
            raise ValueError("batch_seconds and retry_delays must be >= 0 (at most 100 retries), timeout_seconds > 0")
        self.batch_seconds, self.timeout_seconds, self.retry_delays = batch, timeout, delays

    def describe(self) -> dict[str, Any]:
        return {"batch_seconds": self.batch_seconds, "retry_delays": list(self.retry_delays),
                "timeout_seconds": self.timeout_seconds}


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, bytes, str | None]:
    """POST `body`; (status, response body, None) or (None, b"", what went wrong) when nothing answered."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), None
    except urllib.error.HTTPError as error:
        return error.code, error.read() or b"", None
    except (urllib.error.URLError, OSError, ValueError) as error:
        return None, b"", f"{type(error).__name__}: {getattr(error, 'reason', error)}"


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WebhookOutbox:
    """Queued events, a worker thread that posts them, and the record of every attempt."""

    def __init__(self, user_agent: str, settings: OutboxSettings | None = None) -> None:
        self.user_agent = user_agent
        self.settings = settings or OutboxSettings()
        self.faults = WebhookFaults()
        self._cond = threading.Condition()
        self._incoming: list[tuple[Channel, dict[str, Any]]] = []
        self._window_start = 0.0
        self._scheduled: list[tuple[float, int, Delivery]] = []
        self._held: list[Delivery] = []
        self._busy = 0
        self._flushing = 0
        self._closing = False
        self._attempts: list[Attempt] = []
        self._ids = itertools.count(1)
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    # -- what a simulator calls --------------------------------------------------------------------------------
    def publish(self, channel: Channel, event: dict[str, Any]) -> None:
        """Queue one event for `channel`; returns at once (the worker thread posts it)."""
        with self._cond:
            if not self._incoming:
                self._window_start = time.monotonic()
            self._incoming.append((channel, event))
            self._start()
            self._cond.notify_all()

    def post_now(self, channel: Channel, body: bytes, kind: str,
                 events: list[dict[str, Any]]) -> tuple[int | None, bytes]:
        """Post outside the queue and wait for the answer (a subscription's verification), recording it."""
        headers = self._headers(channel, body, forged=False)
        status, answer, error = post(channel.url, body, headers, self.settings.timeout_seconds)
        with self._cond:
            self._attempts.append(Attempt(next(self._ids), 1, channel.url, kind, events, status, error, _now_text()))
        return status, answer

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued, held, delayed or retrying delivery is sent or given up; False on timeout."""
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(self._idle, timeout)
            finally:
                self._flushing -= 1

    def attempts(self) -> list[Attempt]:
        with self._cond:
            return list(self._attempts)

    def log(self) -> list[dict[str, Any]]:
        return [attempt.describe() for attempt in self.attempts()]

    def clear_log(self) -> None:
        with self._cond:
            self._attempts.clear()

    def close(self) -> None:
        """Stop the worker (what is still queued is dropped, as a stopped service would drop it)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    # -- the worker --------------------------------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._closing = False
            self._thread = threading.Thread(target=self._run, name=f"webhooks-{self.user_agent}", daemon=True)
            self._thread.start()

    def _idle(self) -> bool:
        return not (self._incoming or self._scheduled or self._held or self._busy)

    def _run(self) -> None:
        while True:
            with self._cond:
                delivery = self._next_due()
                while delivery is None:
                    if self._closing:
                        return
                    self._cond.wait(timeout=self._wait_seconds())
                    delivery = self._next_due()
                self._busy += 1
            try:
                self._send(delivery)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _wait_seconds(self) -> float | None:
        now = time.monotonic()
        waits = []
        if self._incoming:
            waits.append(self._window_start + self.settings.batch_seconds - now)
        if self._scheduled:
            waits.append(self._scheduled[0][0] - now)
        return max(0.0, min(waits)) if waits else None

    def _next_due(self) -> Delivery | None:
        """Cut a batch whose window closed, release held deliveries at a flush, then the first one due."""
        if self._closing:
            return None
        now = time.monotonic()
        if self._incoming and (self._flushing or now - self._window_start >= self.settings.batch_seconds):
            for delivery in self._cut(self._incoming):
                self._schedule(delivery, now)
            self._incoming = []
        if self._held and self._flushing and not self._incoming and not self._scheduled and not self._busy:
            held, self._held = self._held, []
            for delivery in held:
                self._push(now, delivery)
        if self._scheduled and self._scheduled[0][0] <= now:
            return heapq.heappop(self._scheduled)[2]
        return None

    def _cut(self, incoming: list[tuple[Channel, dict[str, Any]]]) -> list[Delivery]:
        """One delivery per event, or one per batched channel with all its events, in the order they came."""
        deliveries: list[Delivery] = []
        batches: dict[int, Delivery] = {}
        for channel, event in incoming:
            if channel.batched and id(channel) in batches:
                batches[id(channel)].events.append(event)
                continue
            delivery = Delivery(next(self._ids), channel, [event])
            deliveries.append(delivery)
            if channel.batched:
                batches[id(channel)] = delivery
        return deliveries

    def _schedule(self, delivery: Delivery, now: float) -> None:
        fault = self.faults.take()
        kind = fault.kind if fault is not None else None
        if kind == "bad_signature":
            delivery.forged = True
        if kind == "out_of_order":
            delivery.held = True
            self._held.append(delivery)
            return
        due = now
        if kind == "delay":
            delivery.delayed = fault.seconds if fault is not None and fault.seconds is not None \
                else DEFAULT_DELAY_SECONDS
            due = now + delivery.delayed
        self._push(due, delivery)
        if kind == "duplicate":
            self._push(due, Delivery(next(self._ids), delivery.channel, delivery.events, duplicate_of=delivery.id))
        if kind != "delay" and self._held:
            # What was held back goes right after this delivery, so the receiver sees the two swapped.
            held, self._held = self._held, []
            for late in held:
                self._push(due, late)

    def _push(self, due: float, delivery: Delivery) -> None:
        heapq.heappush(self._scheduled, (due, next(self._order), delivery))

    def _headers(self, channel: Channel, body: bytes, *, forged: bool) -> dict[str, str]:
        headers = {"Content-Type": channel.content_type, "User-Agent": self.user_agent}
        if channel.secret is not None or forged:
            secret = WRONG_SECRET_PREFIX + (channel.secret or "") if forged else str(channel.secret)
            headers.update(channel.sign(body, secret, channel.url))
        return headers

    def _send(self, delivery: Delivery) -> None:
        delivery.attempt += 1
        body = delivery.channel.encode(delivery.events, delivery.attempt)
        headers = self._headers(delivery.channel, body, forged=delivery.forged)
        status, _, error = post(delivery.channel.url, body, headers, self.settings.timeout_seconds)
        attempt = Attempt(delivery.id, delivery.attempt, delivery.channel.url, "events", delivery.events, status,
                          error, _now_text(), delivery.duplicate_of, delivery.forged,
                          delivery.delayed if delivery.attempt == 1 else None, delivery.held)
        with self._cond:
            self._attempts.append(attempt)
            delays: Sequence[float] = self.settings.retry_delays
            if not attempt.ok and delivery.attempt <= len(delays) and not self._closing:
                self._push(time.monotonic() + delays[delivery.attempt - 1], delivery)
