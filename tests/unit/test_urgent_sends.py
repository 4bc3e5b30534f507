"""An urgent request goes ahead of the ordinary ones a governor with a horizon holds back (shared/core/http.py
take_turn): ordinary requests reserve at most the horizon ahead, so the critical path of a sync (a split's COUNT and
probes, the chains it starts) waits behind that much of the other streams' requests instead of all of them. Runs
in the virtual time of test_late_sends: senders run concurrently, the clock moves when every one of them sleeps."""

from __future__ import annotations

from collections.abc import Awaitable

import pytest

from plugins.quickbooks.governor import ORDINARY_HORIZON, realm_governor
from shared.core.http import RateGovernor, Throttled, lead_of
from tests.unit.test_late_sends import VirtualTime

PACE = [(1, 0.25), (100, 60.0)]  # one send every quarter second


def sender(governor: RateGovernor, time: VirtualTime, *, start: float = 0.0, urgent: bool = False, path: int = 0
           ) -> Awaitable[float]:
    """One request asking the governor at `start`; when it was sent."""
    async def send() -> float:
        if start:
            await time.sleep()(start)
        await governor.acquire(urgent=urgent, path=path)
        return time.now
    return send()


async def test_an_urgent_request_goes_after_the_horizon_not_after_every_ordinary_request_waiting():
    time = VirtualTime()
    governor = RateGovernor(PACE, clock=time.clock, sleep=time.sleep(), max_sleep=5.0, horizon=0.5)
    ordinary = [sender(governor, time) for _ in range(12)]
    sent = await time.run(*ordinary, sender(governor, time, start=0.1, urgent=True))
    urgent, ordinary_sent = sent[-1], sorted(sent[:-1])
    # Ordinary sends hold at most half a second ahead: at 0.1 s they had reserved 0, 0.25 and 0.5; the urgent one
    # takes the next slot, 0.75 s, where without a horizon it would have waited behind all twelve (3 s).
    assert urgent == pytest.approx(0.75)
    assert ordinary_sent[:3] == pytest.approx([0.0, 0.25, 0.5])
    # The rate is unchanged: thirteen sends a quarter second apart, none lost, none early.
    assert sorted(sent) == pytest.approx([0.25 * i for i in range(13)])


async def test_without_a_horizon_every_request_waits_its_turn_in_the_order_it_asked():
    time = VirtualTime()
    governor = RateGovernor(PACE, clock=time.clock, sleep=time.sleep(), max_sleep=5.0)
    sent = await time.run(*(sender(governor, time) for _ in range(6)), sender(governor, time, start=0.1, urgent=True))
    assert sent[-1] == pytest.approx(1.5)  # behind the six asked before it
    assert sorted(sent) == pytest.approx([0.25 * i for i in range(7)])


async def test_an_ordinary_request_waits_for_the_queue_to_shorten_within_max_sleep_and_else_is_throttled():
    time = VirtualTime()
    governor = RateGovernor(PACE, clock=time.clock, sleep=time.sleep(), max_sleep=2.0, horizon=0.5)
    urgent = [sender(governor, time, urgent=True) for _ in range(4)]  # 0, 0.25, 0.5, 0.75
    # Asking at 0.05 s, the first free send (1.0 s) is 0.95 s away: it sleeps until that is the horizon away. An
    # urgent request asking at 0.3 s, meanwhile, takes 1.0 s; so it sleeps again and then reserves 1.25 s.
    sent = await time.run(*urgent, sender(governor, time, start=0.05), sender(governor, time, start=0.3, urgent=True))
    assert sent[-2:] == pytest.approx([1.25, 1.0])

    time = VirtualTime()
    governor = RateGovernor(PACE, clock=time.clock, sleep=time.sleep(), max_sleep=1.0, horizon=0.5)
    urgent = [sender(governor, time, urgent=True) for _ in range(5)]  # 0 .. 1.0 s: within their max_sleep

    async def ordinary() -> float:
        await time.sleep()(0.05)
        with pytest.raises(Throttled) as throttled:
            await governor.acquire()
        return throttled.value.retry_after
    *_, retry_after = await time.run(*urgent, ordinary())
    assert retry_after == pytest.approx(1.2)  # the first free send, 1.25 s, is more than its second away


async def test_the_realm_governor_holds_ordinary_requests_to_its_horizon():
    governor = realm_governor("realm-horizon", {}, None, {})
    assert isinstance(governor, RateGovernor) and governor._horizon == ORDINARY_HORIZON


def test_an_ordinary_request_may_reserve_its_horizon_ahead_for_itself_and_each_call_known_to_follow_it():
    assert lead_of(0.2, urgent=False, path=0) == pytest.approx(0.2)
    assert lead_of(0.2, urgent=False, path=9) == pytest.approx(2.0)
    assert lead_of(0.2, urgent=False, path=-3) == pytest.approx(0.2)
    assert lead_of(0.2, urgent=True, path=0) is None
    assert lead_of(None, urgent=False, path=4) is None  # no horizon: every request as an urgent one


async def test_among_requests_that_wait_the_one_with_the_longest_path_left_goes_first():
    time = VirtualTime()
    governor = RateGovernor(PACE, clock=time.clock, sleep=time.sleep(), max_sleep=5.0, horizon=0.25)
    # Eight requests of streams about to end fill the queue as far as they may (0, 0.25); then, at 0.1 s, one of a
    # stream with three calls after it (lead 1 s) and one with a single call after it (lead 0.5 s).
    ending = [sender(governor, time) for _ in range(8)]
    sent = await time.run(*ending, sender(governor, time, start=0.1, path=3), sender(governor, time, start=0.1, path=1))
    longest, shorter, ending_sent = sent[-2], sent[-1], sorted(sent[:-2])
    assert longest == pytest.approx(0.5)  # the first slot past what the queue held when it asked
    assert shorter == pytest.approx(0.75)  # then the one with the shorter path
    assert ending_sent[:2] == pytest.approx([0.0, 0.25]) and ending_sent[2] == pytest.approx(1.0)
    assert sorted(sent) == pytest.approx([0.25 * i for i in range(10)])  # the rate is the same
