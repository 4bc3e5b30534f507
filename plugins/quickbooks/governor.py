"""The realm's request budget: Intuit's limits per realm, kept by every worker of the app together.

Intuit allows 10 requests/s per realm and app and 500/min per realm (api-facts); a 429 costs a 60-second wait.
With several workers, each keeping its own windows would send N times that: a fetch's governor keeps the realm's
windows in PostgreSQL (shared/db/shared_budget.py) over the connection the fetch activity lends (storage()).
Without one (a caller that lends no storage) the process keeps them (RateGovernor), as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.budgets.live import REQUESTS, LiveBudget
from shared.core.http import Governor, RateGovernor
from shared.db.shared_budget import SharedBudgets, SharedRateGovernor

# (requests, seconds) per realm as Intuit counts them; a connection's `realm_limits` overrides them (a simulator
# with scaled-down windows, or a limit Intuit changes).
SERVICE_LIMITS: tuple[tuple[int, float], ...] = ((10, 1.0), (500, 60.0))

# A send that goes out later than its reserved time by more than this takes a new reservation instead
# (shared/core/http.py send_on_time): late, it would shorten the span of the ten sends that follow it by as much,
# and the windows' lengthening (governor_limits: 0.27 s for Intuit's second) must still absorb the network's
# varying delays. A tenth of a second leaves them 0.17 s; a wake-up on time is late by a millisecond or two.
LATE_MARGIN = 0.1

# How far ahead an ordinary request may reserve its send, times one more than the calls known to follow it on its
# stream's path (shared/core/http.py lead_of, partition.path_of): a stream's last page 0.2 s, a chain with ten pages
# to go up to its max_sleep (2 s). An urgent one (a split's COUNT and probes: what a large entity's chains, the
# sync's longest path, wait on) reserves up to its max_sleep too. So among requests that wait anyway the one with
# the longest path left goes first, and the streams end together. Under two sends at the governor's pace (0.127 s
# apart); the budget's rate does not change.
ORDINARY_HORIZON = 0.2


def service_limits(config: Mapping[str, Any]) -> list[tuple[int, float]]:
    raw = config.get("realm_limits")
    if raw is None:
        return list(SERVICE_LIMITS)
    try:
        limits = [(int(count), float(seconds)) for count, seconds in raw]
    except (TypeError, ValueError):
        limits = []
    if not limits or any(count < 1 or seconds <= 0 for count, seconds in limits):
        raise ValueError("realm_limits must be a list of [requests, seconds] pairs, each at least 1 request in "
                         "more than 0 seconds")
    return limits


def governor_limits(service: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Each window lengthened a little: requests reach Intuit later than they leave, by varying amounts, so its
    windows and ours never line up exactly; 0.25 s + 2% absorbs that (10/s becomes 10 per 1.27 s: 7.9/s,
    472/min, 94% of what Intuit allows)."""
    return [(count, seconds + 0.25 + 0.02 * seconds) for count, seconds in service]


def realm_key(realm: str) -> str:
    """The key of the realm's request budget in the tables every worker shares."""
    return f"quickbooks-realm:{realm}"


def _per(seconds: float) -> str:
    return {1.0: "second", 60.0: "minute"}.get(seconds, f"{seconds:g}_seconds")


def live_budgets(realm: str, config: Mapping[str, Any]) -> list[LiveBudget]:
    """The realm's request windows as the workers share them: requests in each of Intuit's windows against its
    limit (the governor keeps to the same count over a slightly longer window). Intuit's limit on requests in
    flight is not kept by the governor (its 10 per second bounds them), so none is named."""
    return [LiveBudget(f"requests_per_{_per(seconds)}", REQUESTS, realm_key(realm), count, count, seconds)
            for count, seconds in service_limits(config)]


def realm_governor(realm: str, config: Mapping[str, Any], store: SharedBudgets | None,
                   local: dict[str, RateGovernor]) -> Governor:
    """The governor of one client of `realm`: shared through `store` when the caller lent one."""
    limits = governor_limits(service_limits(config))
    if isinstance(store, SharedBudgets):
        return SharedRateGovernor(realm_key(realm), limits, store, paced=True, late_margin=LATE_MARGIN,
                                  horizon=ORDINARY_HORIZON)
    governor = local.get(realm)
    if governor is None or governor.limits != limits:
        governor = local[realm] = RateGovernor(limits, late_margin=LATE_MARGIN, horizon=ORDINARY_HORIZON)
    return governor
