"""Queue triggers, run as the Functions host runs them against Azure Storage queues (Azurite locally).

Per queue-triggered function, one round: receive a batch of messages (each hidden from other receivers while it is
processed), base64-decode each (host.json messageEncoding's default), hand it to the function as a
func.QueueMessage with its id, dequeue count and times, delete it when the function returns; when it raises, make
it visible again at once (visibilityTimeout 0) for another attempt, and after the fifth failed attempt
(maxDequeueCount) move it to `<queue>-poison` as it was. A body that is not base64 fails like the function.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.functions.queue import QueueMessage
from azure.storage.queue import QueueClient
from azure.storage.queue import QueueMessage as StoredMessage

from shared.core.config import DEFAULT_STORAGE

log = logging.getLogger(__name__)

# host.json extensions.queues defaults (https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#host-json).
BATCH_SIZE = 16
MAX_DEQUEUE_COUNT = 5
RETRY_VISIBILITY_SECONDS = 0
# How long a received message stays hidden while its function runs (the host hides it for 10 minutes and renews).
PROCESSING_VISIBILITY_SECONDS = 600
POISON_SUFFIX = "-poison"
_SETTING = re.compile(r"^%([A-Za-z_][A-Za-z0-9_]*)%$")


@dataclass(frozen=True)
class QueueTrigger:
    """One queue-triggered function: its name and the queue it listens to."""

    function: str
    queue: str
    connection: str


def resolve(value: str) -> str:
    """A binding property: `%NAME%` is the app setting NAME, as the host resolves binding expressions."""
    match = _SETTING.match(value)
    if match is None:
        return value
    resolved = os.environ.get(match.group(1))
    if not resolved:
        raise ValueError(f"binding expression {value} does not resolve: app setting {match.group(1)} is not set")
    return resolved


def connection_string(setting: str) -> str:
    """The storage connection a trigger names (its `connection` setting); Azurite when unset or development storage."""
    value = os.environ.get(setting) or ""
    if not value or value == "UseDevelopmentStorage=true":
        return DEFAULT_STORAGE
    if "AccountName=" not in value and "QueueEndpoint=" not in value:
        raise ValueError(f"the local host reaches queues by connection string only: set {setting} to one")
    return value


class QueueListener:
    """Polls the queues of an app's queue triggers and invokes each function once per message."""

    def __init__(self, triggers: list[QueueTrigger], invoke: Callable[[str, QueueMessage], Any], *,
                 queue_names: Mapping[str, str] | None = None, batch_size: int = BATCH_SIZE,
                 max_dequeue_count: int = MAX_DEQUEUE_COUNT) -> None:
        self.triggers = triggers
        self.invoke = invoke
        self.queue_names = dict(queue_names or {})
        self.batch_size = batch_size
        self.max_dequeue_count = max_dequeue_count
        self._clients: dict[tuple[str, str], QueueClient] = {}

    def queue_of(self, trigger: QueueTrigger) -> str:
        """The queue the trigger reads: its binding's, or the name a test gave it in its place."""
        queue = resolve(trigger.queue)
        return self.queue_names.get(queue, queue)

    def poll(self) -> int:
        """One round over every trigger's queue; returns how many messages were handled (either way)."""
        return sum(self._poll(trigger) for trigger in self.triggers)

    def _client(self, trigger: QueueTrigger, queue: str) -> QueueClient:
        key = (trigger.connection, queue)
        if key not in self._clients:
            # Raw text in and out: decoding is done per message, so one bad body cannot fail the whole batch.
            self._clients[key] = QueueClient.from_connection_string(connection_string(trigger.connection), queue)
        return self._clients[key]

    def _poll(self, trigger: QueueTrigger) -> int:
        queue = self.queue_of(trigger)
        client = self._client(trigger, queue)
        try:
            batch = list(client.receive_messages(messages_per_page=self.batch_size, max_messages=self.batch_size,
                                                 visibility_timeout=PROCESSING_VISIBILITY_SECONDS))
        except ResourceNotFoundError:
            return 0  # nothing was ever sent: the host also waits for the queue to appear
        for message in batch:
            self._handle(trigger, queue, client, message)
        return len(batch)

    def _handle(self, trigger: QueueTrigger, queue: str, client: QueueClient, message: StoredMessage) -> None:
        if message.dequeue_count > self.max_dequeue_count:
            # Received more often than allowed without a recorded failure (e.g. a host killed mid-function).
            self._poison(trigger, queue, client, message)
            return
        try:
            body = base64.b64decode(message.content or "", validate=True)
            self.invoke(trigger.function, QueueMessage(
                id=message.id, body=body, dequeue_count=message.dequeue_count,
                expiration_time=message.expires_on, insertion_time=message.inserted_on,
                time_next_visible=message.next_visible_on, pop_receipt=message.pop_receipt))
        except Exception as exc:  # a bad body or any failure of the function: another attempt, or the poison queue
            log.warning("queue function %s failed on message %s (attempt %d of %d): %s: %s", trigger.function,
                        message.id, message.dequeue_count, self.max_dequeue_count, type(exc).__name__, exc)
            if message.dequeue_count >= self.max_dequeue_count:
                self._poison(trigger, queue, client, message)
            else:
                client.update_message(message, visibility_timeout=RETRY_VISIBILITY_SECONDS)
            return
        client.delete_message(message)

    def _poison(self, trigger: QueueTrigger, queue: str, client: QueueClient, message: StoredMessage) -> None:
        poison = self._client(trigger, queue + POISON_SUFFIX)
        with contextlib.suppress(ResourceExistsError):
            poison.create_queue()
        poison.send_message(message.content)
        client.delete_message(message)
        log.error("message %s of queue %s moved to %s after %d attempts", message.id, queue, queue + POISON_SUFFIX,
                  message.dequeue_count)
