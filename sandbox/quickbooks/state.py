"""Everything one simulator instance knows: companies, clock, tokens, faults, limits and meters."""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

from . import mutations
from .cdc_selection import DEFAULT_SELECTION, CdcSelection
from .clock import SimClock, format_response_time, format_timestamp, truncate_to_second, zone
from .demo_company import DEFAULT_TIMEZONE, DemoCompany
from .faults import DEFAULT_HANG_SECONDS, FaultInjector
from .oauth import TokenRegistry
from .store import RealmStore
from .throttle import Throttle, ThrottleLimits
from .webhooks import QuickBooksWebhooks

MinorVersionPolicy = Literal["reject", "ignore"]
MIN_MINOR_VERSION = 75


class Meter:
    """Counts every API request per realm, whatever its outcome (QBO meters calls, failed ones too)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.by_status: dict[str, Counter[int]] = defaultdict(Counter)
        self.by_endpoint: dict[str, Counter[str]] = defaultdict(Counter)

    def record(self, realm: str, endpoint: str, status: int) -> None:
        self.calls[realm] += 1
        self.by_status[realm][status] += 1
        self.by_endpoint[realm][endpoint] += 1


class SimulatorState:
    def __init__(
        self,
        companies: Iterable[DemoCompany],
        clock: SimClock | None = None,
        access_tokens: Iterable[str] = (),
        refresh_tokens: Mapping[str, str] | None = None,
        *,
        client_id: str = "demo-client-id",
        client_secret: str = "demo-client-secret",
        authorization_codes: Mapping[str, str] | None = None,
        limits: ThrottleLimits | None = None,
        minorversion_policy: MinorVersionPolicy = "reject",
        timeout_hang_seconds: float = DEFAULT_HANG_SECONDS,
        cdc_selection: str = DEFAULT_SELECTION,
        cdc_seed: int = 0,
    ) -> None:
        """`refresh_tokens` maps realm -> its initial refresh token; `authorization_codes` maps code -> realm.

        `cdc_selection` says which 1,000 objects a full CDC response keeps (see cdc_selection.py).
        """
        self.clock = clock or SimClock()
        self.stores: dict[str, RealmStore] = {c.realm_id: RealmStore(c) for c in companies}
        self.oauth = TokenRegistry(self.clock, access_tokens, refresh_tokens, client_id, client_secret,
                                   authorization_codes)
        self.faults = FaultInjector(timeout_hang_seconds)
        self.throttle = Throttle(limits or ThrottleLimits(), self.clock)
        self.meter = Meter()
        self.minorversion_policy: MinorVersionPolicy = minorversion_policy
        self.cdc_selection = CdcSelection(cdc_selection, cdc_seed)
        self.webhooks = QuickBooksWebhooks(client_id)
        self._last_stamp: datetime | None = None

    # -- lookups ---------------------------------------------------------------------------------
    def has_realm(self, realm: str) -> bool:
        return realm in self.stores

    def store(self, realm: str) -> RealmStore:
        try:
            return self.stores[realm]
        except KeyError:
            raise KeyError(f"unknown realm {realm}") from None

    def tz_for(self, realm: str | None) -> tzinfo:
        store = self.stores.get(realm or "")
        if store is not None:
            return store.tz
        first = next(iter(self.stores.values()), None)
        return first.tz if first else zone(DEFAULT_TIMEZONE)

    def time_text(self, realm: str | None) -> str:
        """The response envelope's `time`, in the company's zone."""
        return format_response_time(self.clock.now(), self.tz_for(realm))

    def get(self, realm: str, entity: str, ident: str) -> dict[str, Any] | None:
        record = self.store(realm).get(entity, ident)
        return copy.deepcopy(record) if record is not None else None

    def records(self, realm: str, entity: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.store(realm).rows(entity))

    # -- mutations (each one moves the clock on by at least a second) ----------------------------
    def _stamp(self, realm: str) -> str:
        # Every write stamps first, so this is where the store learns that its records change (its keyset
        # indexes are rebuilt at the next query; the write itself runs before any other request).
        self.store(realm).changed()
        self.clock.advance(1.0)
        moment = truncate_to_second(self.clock.now())
        if self._last_stamp is not None and moment <= self._last_stamp:
            self.clock.advance((self._last_stamp - moment).total_seconds() + 1.0)
            moment = self._last_stamp + timedelta(seconds=1)
        self._last_stamp = moment
        return format_timestamp(moment, self.store(realm).tz)

    def update(self, realm: str, entity: str, ident: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Sparse update of top-level fields; bumps SyncToken and LastUpdatedTime. Returns the record."""
        self.store(realm).require(entity, ident)
        record = mutations.update(self.store(realm), entity, ident, fields, self._stamp(realm))
        self._notify(realm, entity, ident, "updated")
        return record

    def create(self, realm: str, entity: str, fields: dict[str, Any]) -> str:
        """Create a record (defaults and side effects as QBO applies them); returns its new Id."""
        store = self.store(realm)
        stamp = self._stamp(realm)
        today = self.clock.now().astimezone(store.tz).date()
        ident = mutations.create(store, entity, fields, stamp, today)
        self._notify(realm, entity, ident, "created")
        return ident

    def delete(self, realm: str, entity: str, ident: str) -> None:
        """Hard-delete a transaction (CDC reports it); a list entity is made inactive instead."""
        self.store(realm).require(entity, ident)
        mutations.delete(self.store(realm), entity, ident, self._stamp(realm))
        self._notify(realm, entity, ident, "deleted")

    def void(self, realm: str, entity: str, ident: str) -> dict[str, Any]:
        self.store(realm).require(entity, ident)
        record = mutations.void(self.store(realm), entity, ident, self._stamp(realm))
        # A void is an update of the record (its amounts become 0); Intuit's CloudEvents types name no void.
        self._notify(realm, entity, ident, "updated")
        return record

    def _notify(self, realm: str, entity: str, ident: str, operation: str) -> None:
        """Tell the app's webhook about a change (queued: the change never waits for the receiver)."""
        self.webhooks.notify(realm, entity, ident, operation, self.clock.now())

    # -- metering ----------------------------------------------------------------------------------
    def calls(self, realm: str) -> int:
        """API requests addressed to this realm so far, whatever their outcome."""
        return self.meter.calls[realm]

    def stats(self, realm: str) -> dict[str, Any]:
        return {"realm": realm, "calls": self.meter.calls[realm],
                "by_status": {str(k): v for k, v in sorted(self.meter.by_status[realm].items())},
                "by_endpoint": dict(sorted(self.meter.by_endpoint[realm].items())),
                "throttled": self.throttle.rejected[realm]}
