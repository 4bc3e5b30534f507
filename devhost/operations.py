"""Client-side operations on the task hub (what the extension's DurableClient does)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from devhost import history as ev
from devhost.clock import Clock
from devhost.functions import ORCHESTRATOR, FunctionIndex
from devhost.status import to_status
from devhost.store import TERMINAL_STATES, Store


class NotFoundError(KeyError):
    """No instance with this id."""


class GoneError(Exception):
    """The instance already finished."""


class HubOperations:
    """Start, query, signal, terminate and purge instances; wakes the driver after each change."""

    def __init__(self, store: Store, functions: FunctionIndex, clock: Clock, wake: Callable[[], None]) -> None:
        self.store = store
        self.functions = functions
        self.clock = clock
        self._wake = wake

    def start(self, name: str, instance_id: str | None, input_json: str | None) -> str:
        """Create a Pending instance; ValueError for an unknown orchestrator, InstanceExistsError if running."""
        self.functions.get(name, ORCHESTRATOR)
        instance_id = instance_id or uuid.uuid4().hex
        self.store.create_instance(instance_id, name, input_json, uuid.uuid4().hex, self.clock.now())
        self._wake()
        return instance_id

    def status(self, instance_id: str, *, show_history: bool = False) -> dict[str, Any] | None:
        """Runtime-shaped status, or None for an unknown id."""
        instance = self.store.get_instance(instance_id)
        if instance is None:
            return None
        return to_status(instance, self.store.history(instance_id) if show_history else None)

    def query(self, **filters: Any) -> list[dict[str, Any]]:
        """Statuses of all instances matching the filters (see Store.list_instances)."""
        return [to_status(i) for i in self.store.list_instances(**filters)]

    def raise_event(self, instance_id: str, name: str, data_json: str | None) -> None:
        """Deliver an external event; NotFoundError or GoneError as the extension answers 404 / 410."""
        self._require_running(instance_id)
        self.store.enqueue(instance_id, ev.event_raised(self.clock.now(), name, data_json))
        self._wake()

    def terminate(self, instance_id: str, reason: str | None) -> None:
        """Ask the driver to terminate a running instance at its next episode."""
        self._require_running(instance_id)
        self.store.enqueue(instance_id, ev.execution_terminated(self.clock.now(), reason))
        self._wake()

    def purge(self, instance_ids: list[str]) -> int:
        """Delete finished instances; returns how many were deleted."""
        return self.store.purge(instance_ids)

    def _require_running(self, instance_id: str) -> None:
        instance = self.store.get_instance(instance_id)
        if instance is None:
            raise NotFoundError(instance_id)
        if instance.status in TERMINAL_STATES:
            raise GoneError(f"Instance with ID {instance_id} is gone: either completed or failed")
