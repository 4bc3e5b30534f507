"""The ids a log record is about, attached to every record logged while they are bound.

    with log_ids(run_id=..., connection_id=..., stream=...):
        log.info("loaded ...")      # the record carries run_id, connection_id and stream as attributes

The Application Insights handler turns record attributes into customDimensions, so an operator filters a run's,
a connection's or a stream's lines without parsing messages. Bound in the activities (they know the ids);
install_log_context() (function_app, once) makes every record carry them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType

FIELDS = ("run_id", "connection_id", "stream", "instance_id", "caller")
# Immutable default (a fresh dict is set on each binding, never mutated).
_bound: ContextVar[Mapping[str, str]] = ContextVar("bizmetrics_log_ids", default=MappingProxyType({}))
# One mutable holder per API request: the caller is known only once a dependency has authenticated it, and
# dependencies may run in a copied context (a thread), so the holder, not a new binding, carries it.
_request: ContextVar[dict[str, str] | None] = ContextVar("bizmetrics_request", default=None)
_installed = False


@contextlib.contextmanager
def log_ids(**ids: str | None) -> Iterator[None]:
    unknown = set(ids) - set(FIELDS)
    if unknown:
        raise ValueError(f"Unknown log ids {sorted(unknown)}; known: {', '.join(FIELDS)}")
    token = _bound.set({**_bound.get(), **{k: str(v) for k, v in ids.items() if v}})
    try:
        yield
    finally:
        _bound.reset(token)


def current_ids() -> dict[str, str]:
    return {**_bound.get(), **(_request.get() or {})}


@contextlib.contextmanager
def request_scope() -> Iterator[None]:
    """One API request: records logged while it is handled carry the caller once note_caller() names it."""
    token = _request.set({})
    try:
        yield
    finally:
        _request.reset(token)


def note_caller(actor: str) -> None:
    holder = _request.get()
    if holder is not None:
        holder["caller"] = actor


def install_log_context() -> None:
    """Every log record created from now on carries the bound ids (idempotent)."""
    global _installed
    if _installed:
        return
    make = logging.getLogRecordFactory()

    def record_with_ids(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make(*args, **kwargs)
        for name, value in current_ids().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return record

    logging.setLogRecordFactory(record_with_ids)
    _installed = True
