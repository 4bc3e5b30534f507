"""A governor's send that wakes up later than its reserved time by more than the margin reserves again instead of
going late and bunching with the sends reserved after it (shared/core/http.py send_on_time), on a clock the test
drives: senders run concurrently in virtual time, and a sender's sleep may end late by as much as the test says."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable, Iterator

import pytest

from plugins.quickbooks.governor import LATE_MARGIN, realm_governor
from shared.core.http import LATE_RESERVATIONS, RateGovernor, Throttled

MARGIN = 0.1
PACE = [(1, 0.25), (100, 60.0)]  # one send every quarter second (the minute's window counts the reservations)


class VirtualTime:
    """A clock that moves only when every sender sleeps: to the earliest wake-up, which may be late."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    def sleep(self, late: Iterator[float] | None = None) -> Callable[[float], Awaitable[None]]:
        """A sleep that ends `next(late)` seconds after it should (on time once `late` runs out)."""
        async def sleep(seconds: float) -> None:
            wake = self.now + seconds + (next(late, 0.0) if late is not None else 0.0)
            future = asyncio.get_running_loop().create_future()
            heapq.heappush(self._sleepers, (wake, next(self._order), future))
            await future
        return sleep

    async def run(self, *senders: Awaitable[float]) -> list[float]:
        """Run the senders to their end; what each returned."""
        tasks = [asyncio.ensure_future(sender) for sender in senders]
        while not all(task.done() for task in tasks):
            for _ in range(20):  # let every sender run until it sleeps or ends
                await asyncio.sleep(0)
            if self._sleepers:
                wake, _, future = heapq.heappop(self._sleepers)
                self.now = max(self.now, wake)
                future.set_result(None)
        return [task.result() for task in tasks]


def sender(governor: RateGovernor, time: VirtualTime, start: float = 0.0) -> Awaitable[float]:
    """One request: it asks the governor at `start` and sends when acquire returns; the send time."""
    async def send() -> float:
        if start:
            await time.sleep()(start)
        await governor.acquire()
        return time.now
    return send()


async def test_a_late_wake_up_reserves_again_instead_of_bunching_with_the_send_reserved_after_it():
    time = VirtualTime()
    late_once = iter([0.35])  # the second sender's wait ends 0.35 s late: after the third one's slot
    on_time = RateGovernor(PACE, clock=time.clock, sleep=time.sleep(), late_margin=MARGIN)
    late = RateGovernor(PACE, clock=time.clock, sleep=time.sleep(late_once), late_margin=MARGIN)
    late._windows = on_time._windows  # one budget, two senders (as threads of one process share it)
    late._lock = on_time._lock
    sends = await time.run(sender(on_time, time), sender(late, time, 0.001), sender(on_time, time, 0.002))
    # Reserved 0, 0.25, 0.5; the late one would have gone at 0.6, 0.1 s after the third: it goes at 0.75 instead.
    assert sends == pytest.approx([0.0, 0.75, 0.5])
    gaps = [b - a for a, b in itertools.pairwise(sorted(sends))]
    assert min(gaps) >= 0.25 - 1e-9
    # Its late slot stays counted as if used: four reservations for three sends.
    assert len(on_time._windows[1]) == 4


async def test_without_a_margin_the_late_send_goes_as_it_is_and_bunches():
    time = VirtualTime()
    on_time = RateGovernor(PACE, clock=time.clock, sleep=time.sleep())
    late = RateGovernor(PACE, clock=time.clock, sleep=time.sleep(iter([0.35])))
    late._windows, late._lock = on_time._windows, on_time._lock
    sends = await time.run(sender(on_time, time), sender(late, time, 0.001), sender(on_time, time, 0.002))
    assert sends == pytest.approx([0.0, 0.6, 0.5])  # 0.1 s apart where the budget allows one per 0.25 s


async def test_a_wake_up_late_within_the_margin_sends_on_its_slot():
    time = VirtualTime()
    governor = RateGovernor(PACE, clock=time.clock, sleep=time.sleep(iter([0.0, MARGIN])), late_margin=MARGIN)
    sends = await time.run(*(sender(governor, time, 0.001 * n) for n in range(3)))
    assert sends == pytest.approx([0.0, 0.25, 0.6])
    assert len(governor._windows[1]) == 3


async def test_a_sender_late_every_time_goes_after_its_last_new_reservation():
    time = VirtualTime()
    governor = RateGovernor(PACE, clock=time.clock, sleep=time.sleep(itertools.repeat(0.2)), late_margin=MARGIN)
    first, second = await time.run(sender(governor, time), sender(governor, time, 0.001))
    # Reserved 0.25, then 0.5, 0.75 and 1.0 after each wake-up 0.2 s late: the last goes late (at 1.2), not a fifth.
    assert first == 0.0 and second == pytest.approx(1.0 + 0.2)
    assert len(governor._windows[1]) == 2 + LATE_RESERVATIONS


async def test_a_late_wake_up_whose_new_slot_is_already_due_sends_at_once():
    time = VirtualTime()
    governor = RateGovernor(PACE, clock=time.clock, sleep=time.sleep(iter([0.3])), late_margin=MARGIN)
    sends = await time.run(sender(governor, time), sender(governor, time, 0.001))
    # Reserved 0.25, woke at 0.55: the new slot is now (0.25 after the late one), no second wait.
    assert sends == pytest.approx([0.0, 0.55]) and len(governor._windows[1]) == 3


async def test_a_new_reservation_that_would_wait_too_long_is_handed_back_as_throttled():
    time = VirtualTime()
    governor = RateGovernor([(2, 10.0)], clock=time.clock, sleep=time.sleep(iter([0.5])), late_margin=MARGIN,
                            max_sleep=2.0)
    await time.run(sender(governor, time))
    time.now = 9.0  # the second send waits for the first one's window to pass (1 s), then wakes 0.5 s late
    governor._windows[0].append(9.0)  # another sender took the window's second place meanwhile
    with pytest.raises(Throttled):
        await time.run(sender(governor, time))


def test_quickbooks_governors_reserve_again_when_late_and_keep_the_margin_inside_the_windows_slack():
    local: dict[str, RateGovernor] = {}
    governor = realm_governor("7", {}, None, local)
    assert isinstance(governor, RateGovernor) and governor._late_margin == LATE_MARGIN
    # Ten sends span at least 1.27 s where Intuit allows ten per second: a send late by the margin still leaves
    # more than half of the 0.27 s to the network.
    slack = governor.limits[0][1] - 1.0
    assert 0 < LATE_MARGIN < slack / 2
