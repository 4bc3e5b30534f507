"""The realm's governor: Intuit's windows (or a connection's realm_limits), lengthened a little; shared through the
storage a fetch lends, kept in the process otherwise."""

from __future__ import annotations

import pytest

from plugins.quickbooks.governor import SERVICE_LIMITS, governor_limits, realm_governor, service_limits
from shared.core.http import RateGovernor
from shared.db.shared_budget import SharedBudgets, SharedRateGovernor


def test_intuits_windows_are_kept_with_a_margin_for_requests_arriving_late():
    assert service_limits({}) == list(SERVICE_LIMITS)
    limits = governor_limits(service_limits({}))
    assert [count for count, _ in limits] == [10, 500]
    # Sustained, the per-second window binds: still over 90% of the 500 per minute Intuit allows.
    per_minute = min(count / seconds for count, seconds in limits) * 60
    assert 450 < per_minute < 500


def test_a_connection_may_scale_the_windows_and_a_malformed_setting_is_refused():
    assert service_limits({"realm_limits": [[5, 1], [40, 6]]}) == [(5, 1.0), (40, 6.0)]
    for bad in ([], [[0, 1]], [[5, 0]], "10/s", [[5]]):
        with pytest.raises(ValueError, match="realm_limits"):
            service_limits({"realm_limits": bad})


class FakeConnection:
    autocommit = True


def test_a_fetch_that_lends_storage_shares_the_realms_budget_and_others_keep_one_per_process():
    local: dict[str, RateGovernor] = {}
    shared = realm_governor("123", {}, SharedBudgets(FakeConnection()), local)  # type: ignore[arg-type]
    assert isinstance(shared, SharedRateGovernor) and shared.key == "quickbooks-realm:123" and local == {}
    first = realm_governor("123", {}, None, local)
    assert isinstance(first, RateGovernor) and realm_governor("123", {}, None, local) is first
    assert realm_governor("123", {"realm_limits": [[2, 1]]}, None, local) is not first
