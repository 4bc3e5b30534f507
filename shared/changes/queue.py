"""The change-notice queue (Azure Storage; Azurite locally): webhook handlers put notices on it, a queue-triggered
function takes them off.

Messages are base64 text, the Functions queue trigger's default encoding (host.json extensions.queues
messageEncoding), so the trigger in Azure reads exactly what this module writes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import BinaryBase64DecodePolicy, BinaryBase64EncodePolicy, QueueClient

from shared.changes.notice import ChangeNotice
from shared.core.config import StorageTarget, load_settings

QUEUE_NAME = "bizmetrics-changes"
# The trigger's binding setting (function's `connection`): the app's storage, as AzureWebJobsStorage.
QUEUE_CONNECTION = "AzureWebJobsStorage"


def queue_client(target: StorageTarget | None = None, *, credential: Any = None, name: str = QUEUE_NAME) -> QueueClient:
    """The change queue's client; `credential` replaces DefaultAzureCredential for identity-based targets, `name`
    the queue's name for a local host reading another queue in its place (devhost's queue_names)."""
    target = target or load_settings().storage
    codec = {"message_encode_policy": BinaryBase64EncodePolicy(), "message_decode_policy": BinaryBase64DecodePolicy()}
    if target.connection_string is not None:
        return QueueClient.from_connection_string(target.connection_string, name, **codec)
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(managed_identity_client_id=target.client_id)
    if not target.queue_url:
        raise ValueError("no queue service URL: set AzureWebJobsStorage__accountName or __queueServiceUri")
    return QueueClient(target.queue_url, name, credential=credential, **codec)


def encode(notice: ChangeNotice) -> bytes:
    return json.dumps(notice.to_json(), separators=(",", ":")).encode()


def decode(body: bytes | str) -> ChangeNotice:
    """A queued notice; MessageError (a ValueError) when the body is not one."""
    return ChangeNotice.from_json(json.loads(body))


def enqueue(notices: Iterable[ChangeNotice], client: QueueClient | None = None) -> int:
    """Put each notice on the queue (creating it on first use); returns how many were sent."""
    client = client or queue_client()
    sent = 0
    for notice in notices:
        try:
            client.send_message(encode(notice))
        except Exception as exc:
            if getattr(exc, "error_code", None) != "QueueNotFound":
                raise
            with contextlib.suppress(ResourceExistsError):
                client.create_queue()
            client.send_message(encode(notice))
        sent += 1
    return sent
