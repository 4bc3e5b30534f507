"""A tiny HTTP server that stands for an app's webhook endpoint in the simulators' webhook tests.

It records every POST (headers and raw body, as the signature is over the raw bytes) and answers 200, or the
statuses a test queues first; with `echo_challenge` it answers a `{"challenge": ..}` body the way an app
must (echoing it), or with whatever `challenge_answer` says.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []  # answered in order before the default 200
        self.challenge_answer: Any = None  # None: echo the challenge
        # When set, each POST waits for `release` after signalling `entered` (a receiver that is slow to answer).
        self.hold = False
        self.entered = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.hold:
                    receiver.entered.set()
                    receiver.release.wait(timeout=30)
                with receiver._lock:
                    receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                answer = b"{}"
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                if isinstance(parsed, dict) and "challenge" in parsed:
                    reply = receiver.challenge_answer if receiver.challenge_answer is not None else parsed
                    answer = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test reads what arrived from `received`."""

        return Handler

    def events(self) -> list[Received]:
        """What arrived, except subscription challenges."""
        with self._lock:
            return [r for r in self.received if not (isinstance(r.json(), dict) and "challenge" in r.json())]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `condition` until it holds (a state a background thread reaches), failing after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(timeout=2)
