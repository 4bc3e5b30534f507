"""Queue triggers against Azurite, as the Functions host runs them: base64 bodies, delete on success, retries with
the dequeue count, the poison queue after five failed attempts; the function's durable client reaches the host."""

from __future__ import annotations

import base64
import contextlib
import time
import uuid
from collections.abc import Iterator

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import BinaryBase64EncodePolicy, QueueClient

from devhost.queues import MAX_DEQUEUE_COUNT, connection_string, resolve
from tests.devhost.sample_app import QUEUE_SEEN, SAMPLE_QUEUE


@pytest.fixture
def queue_name() -> Iterator[str]:
    """A queue of this test's own: Azurite is shared by every test session on the machine."""
    name = f"devhost-{uuid.uuid4().hex[:12]}"
    yield name
    for queue in (name, name + "-poison"):
        with contextlib.suppress(ResourceNotFoundError):
            QueueClient.from_connection_string(connection_string("AzureWebJobsStorage"), queue).delete_queue()


@pytest.fixture
def queue_host(make_host, queue_name):
    QUEUE_SEEN.clear()
    return make_host(queue_names={SAMPLE_QUEUE: queue_name})


def client(queue: str, *, encode: bool = True) -> QueueClient:
    options = {"message_encode_policy": BinaryBase64EncodePolicy()} if encode else {}
    made = QueueClient.from_connection_string(connection_string("AzureWebJobsStorage"), queue, **options)
    try:
        made.create_queue()
    except Exception as exc:  # already there
        assert getattr(exc, "error_code", None) == "QueueAlreadyExists", exc
    return made


def left(queue: str) -> list[str]:
    return [m.content for m in client(queue, encode=False).peek_messages(max_messages=32)]


def test_a_message_reaches_the_function_decoded_and_is_deleted_once_it_returns(queue_host, queue_name):
    client(queue_name).send_message(b'{"start": "from-queue", "input": 4}')
    assert queue_host.poll_queues() == 1
    assert [(s["body"], s["dequeue_count"]) for s in QUEUE_SEEN] == [({"start": "from-queue", "input": 4}, 1)]
    assert QUEUE_SEEN[0]["id"] and QUEUE_SEEN[0]["inserted"] is not None
    assert left(queue_name) == []
    # The function's durable client started an orchestration in this host.
    assert queue_host.run_until_complete("from-queue", timeout=30)["output"]["doubled"] == 8
    assert queue_host.poll_queues() == 0


def test_a_failing_message_is_retried_with_its_dequeue_count_then_moved_to_the_poison_queue(queue_host, queue_name):
    client(queue_name).send_message(b'{"fail": true}')
    for _ in range(MAX_DEQUEUE_COUNT):
        assert queue_host.poll_queues() == 1
    assert [s["dequeue_count"] for s in QUEUE_SEEN] == [1, 2, 3, 4, 5]
    assert left(queue_name) == []
    poisoned = left(queue_name + "-poison")
    assert len(poisoned) == 1
    assert client(queue_name + "-poison", encode=False).receive_message().content == poisoned[0]
    assert base64.b64decode(poisoned[0]) == b'{"fail": true}'  # as it was sent
    assert queue_host.poll_queues() == 0


def test_a_body_that_is_not_base64_never_reaches_the_function_and_ends_in_the_poison_queue(queue_host, queue_name):
    client(queue_name, encode=False).send_message("this is not base64!")
    for _ in range(MAX_DEQUEUE_COUNT):
        assert queue_host.poll_queues() == 1
    assert QUEUE_SEEN == []
    assert left(queue_name + "-poison") == ["this is not base64!"]


def test_a_queue_nothing_was_sent_to_yet_is_simply_empty(queue_host):
    assert queue_host.poll_queues() == 0


def test_the_background_host_runs_queue_triggers_by_itself(make_host, queue_name):
    QUEUE_SEEN.clear()
    host = make_host(queue_names={SAMPLE_QUEUE: queue_name}, virtual_time=False)
    host.start(queues=True)
    client(queue_name).send_message(b'{"start": "background", "input": 2}')
    deadline = time.monotonic() + 30
    while host.get_status("background") is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert host.wait_for("background", timeout=30)["output"]["doubled"] == 4
    host.stop()


def test_binding_expressions_resolve_from_the_settings_and_an_unset_one_is_an_error(monkeypatch):
    monkeypatch.setenv("DEVHOST_QUEUE_SETTING", "resolved-queue")
    assert resolve("%DEVHOST_QUEUE_SETTING%") == "resolved-queue"
    assert resolve("plain-name") == "plain-name"
    monkeypatch.delenv("DEVHOST_QUEUE_SETTING")
    with pytest.raises(ValueError, match="DEVHOST_QUEUE_SETTING is not set"):
        resolve("%DEVHOST_QUEUE_SETTING%")
