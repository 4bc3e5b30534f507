"""The budget planner as pure functions over simulated time: the schedule counter, the projection to the reset, each
decision, and a simulated day of a Standard-plan monday account with an hourly schedule and busy webhooks."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

import pytest

from plugins.monday.plugin import MondayPlugin
from plugins.monday.settings import PLANS
from shared.budgets.ncrontab import fires_between, parse
from shared.budgets.planner import (
    OTHER_WINDOW,
    Allowance,
    Cost,
    Rates,
    RunCost,
    decide,
    other_rate,
    project,
    strictest,
    summarize,
)

DAY = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
MIDNIGHT = DAY + dt.timedelta(days=1)
HOURLY = "0 0 * * * *"


def budget(used: int, *, limit: int = 1000, allowance: int = 900, resets_at: dt.datetime = MIDNIGHT) -> Allowance:
    return Allowance("calls_today", "monday-account:42", used, limit, allowance, resets_at)


# -- the schedule ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("expression", "fires"), [
    (HOURLY, 24), ("0 */30 * * * *", 48), ("0 */5 * * * *", 288), ("*/10 * * * * *", 8640),
    ("0 0 9-17 * * mon-fri", 9), ("0 0 9-17 * * sat,sun", 0), ("0 0 0 1 * *", 1), ("0 0 0 2-31 * *", 0),
    ("0 0 0 1,2 * *", 1), ("0 0 6 * * 0", 0), ("0 15 3 * DEC *", 1),
])
def test_fires_in_one_day(expression, fires):
    # 2026-12-01 is a Tuesday; the day's fires are those in (midnight before, next midnight].
    assert fires_between(expression, DAY - dt.timedelta(microseconds=1), MIDNIGHT - dt.timedelta(microseconds=1)) \
        == fires


def test_fires_count_only_what_is_after_now_and_up_to_the_reset():
    at = DAY + dt.timedelta(hours=13, minutes=20)
    assert fires_between(HOURLY, at, MIDNIGHT) == 11  # 14:00 .. 00:00 (the reset instant itself fires)
    assert fires_between(HOURLY, DAY + dt.timedelta(hours=13), DAY + dt.timedelta(hours=14)) == 1
    assert fires_between(HOURLY, MIDNIGHT, DAY) == 0
    assert fires_between("0 0 0 1 * *", DAY, DAY + dt.timedelta(days=62)) == 2  # 1 January, 1 February


@pytest.mark.parametrize(("expression", "word"), [
    ("0 * * * *", "six fields"), ("0 61 * * * *", "minute"), ("0 0 25 * * *", "hour"), ("x * * * * *", "second"),
    ("0 0 * * * 8", "weekday"), ("0 */0 * * * *", "step"),
])
def test_a_schedule_the_planner_cannot_read_says_which_field(expression, word):
    with pytest.raises(ValueError, match=word):
        parse(expression)


# -- the projection --------------------------------------------------------------------------------------------------
def test_the_projection_adds_this_run_the_scheduled_runs_left_and_the_expected_webhook_runs():
    rates = Rates(scheduled=Cost(20, 4), other=Cost(5, 0), other_per_hour=2.0, known=True)
    at = DAY + dt.timedelta(hours=18)  # six hours, six scheduled runs left (19:00 .. 00:00)
    outlook = project(budget(300), rates, at, HOURLY, this_run=Cost(20, 4))
    assert outlook.scheduled_runs_left == 6 and outlook.other_runs_expected == 12
    assert outlook.projected == 300 + 24 + 6 * 24 + 12 * 5
    assert outlook.projected_deferring == 300 + 20 + 6 * 20 + 12 * 5


def test_without_recent_runs_nothing_is_projected_and_the_run_goes():
    rates = summarize([], DAY)
    decision = decide(budget(100), rates, DAY, HOURLY, "timer", "raise daily_call_share")
    assert (decision.action, decision.outlook.projected) == ("go", None)


def test_rates_are_taken_over_the_window_and_skipped_runs_cost_nothing():
    now = DAY + dt.timedelta(hours=10)
    history = [RunCost(DAY + dt.timedelta(hours=h), "timer", 20, 4) for h in range(10)]
    history += [RunCost(DAY + dt.timedelta(hours=h, minutes=30), "webhook", 5) for h in range(10)]
    history += [RunCost(DAY + dt.timedelta(hours=9, minutes=45), "timer", 0, 0)]  # a skipped one
    history += [RunCost(DAY - dt.timedelta(days=2), "webhook", 500)]  # outside the window
    rates = summarize(history, now)
    assert rates.scheduled == Cost(20, 4) and rates.other == Cost(5, 0)
    assert rates.other_per_hour == pytest.approx(1.0)  # ten runs over the ten hours there is history for
    assert rates.last_scheduled_at == DAY + dt.timedelta(hours=9)


# -- the decisions ---------------------------------------------------------------------------------------------------
RATES = Rates(scheduled=Cost(20, 10), other=Cost(5, 0), other_per_hour=4.0, known=True,
              last_scheduled_at=DAY + dt.timedelta(hours=11))
NOON = DAY + dt.timedelta(hours=12)  # 12 scheduled runs left after this one, 48 webhook runs expected (240 calls)


def test_a_run_goes_when_everything_projected_fits():
    decision = decide(budget(100), RATES, NOON, HOURLY, "timer", "x")
    assert decision.outlook.projected == 100 + 30 + 12 * 30 + 240
    assert decision.action == "go" and decision.reason == ""


def test_low_priority_streams_are_deferred_when_only_they_do_not_fit():
    decision = decide(budget(300), RATES, NOON, HOURLY, "timer", "x")  # 930 with them, 800 without
    assert decision.action == "defer"
    assert "projected 930 of 900" in decision.reason and "800 without them" in decision.reason


def test_a_scheduled_run_is_skipped_to_stretch_the_schedule_when_even_essential_streams_do_not_fit():
    # 900 - 500 - 240 (webhooks) = 160 left for scheduled runs: 8 of the 13 left fit, one every 1 h 30 min.
    decision = decide(budget(500), RATES, NOON, HOURLY, "timer", "x")
    assert decision.action == "skip"
    assert "one run every 1 h 30 min" in decision.reason and "8 of 13 scheduled runs" in decision.reason
    later = Rates(**{**RATES.__dict__, "last_scheduled_at": NOON - dt.timedelta(hours=2)})
    assert decide(budget(500), later, NOON, HOURLY, "timer", "x").action == "defer"


def test_a_webhook_run_is_not_skipped_but_defers_and_leaves_the_schedule_to_stretch():
    decision = decide(budget(500), RATES, NOON, HOURLY, "webhook", "x")
    assert decision.action == "defer" and "schedule stretched" in decision.reason


def test_a_run_whose_essential_streams_would_run_the_budget_out_is_refused_saying_when_and_what_to_change():
    decision = decide(budget(885), RATES, NOON, HOURLY, "timer", "raise daily_call_share (now 0.9)")
    assert decision.action == "refuse"
    assert "885 of 900 calls syncs may spend (limit 1,000) are used; this run needs about 20" in decision.reason
    assert "works again after 2026-12-02 00:00 UTC" in decision.reason
    assert decision.reason.endswith("raise daily_call_share (now 0.9)")
    assert decide(budget(900), summarize([], NOON), NOON, HOURLY, "webhook", "x").action == "refuse"


def test_the_strictest_decision_binds_a_run_spending_several_budgets():
    go = decide(budget(100), RATES, NOON, HOURLY, "timer", "x")
    refuse = decide(budget(900), RATES, NOON, HOURLY, "timer", "x")
    defer = decide(budget(300), RATES, NOON, HOURLY, "timer", "x")
    assert strictest([go, defer, refuse]) is refuse and strictest([go, defer]) is defer and strictest([]) is None


# -- a simulated day -------------------------------------------------------------------------------------------------
MONDAY = MondayPlugin()
# What one run of each kind reads, in calls per stream: a scheduled incremental run reads the account streams and
# the changed boards' items; a webhook's run reads the boards stream and the board it names.
SCHEDULED_RUN = {"directory": 4, "boards": 2, "updates": 2, **{f"items:{b}": 2 for b in range(10)}}
WEBHOOK_RUN = {"boards": 1, "items:3": 3}


@dataclass
class Account:
    """The account's day as the planner would see it: calls per UTC day, the runs so far, what was decided."""

    limit: int
    allowance: int
    history: list[RunCost] = field(default_factory=list)
    calls: dict[dt.date, int] = field(default_factory=dict)
    decisions: list[tuple[dt.datetime, str, str, list[str]]] = field(default_factory=list)

    def run(self, now: dt.datetime, trigger: str, streams: dict[str, int], planned: bool = True) -> None:
        day = now.date()
        reset = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
        action, deferred = "go", []
        if planned:
            allowance = Allowance("calls_today", "monday-account:sim", self.calls.get(day, 0), self.limit,
                                  self.allowance, reset)
            action = decide(allowance, summarize(self.history, now), now, HOURLY, trigger, "raise the plan").action
        if action in ("skip", "refuse"):
            read = {}
        elif action == "defer":
            deferred = [s for s in streams if MONDAY.deferrable(s)]
            read = {s: n for s, n in streams.items() if s not in deferred}
        else:
            read = dict(streams)
        essential = sum(n for s, n in read.items() if not MONDAY.deferrable(s))
        self.history.append(RunCost(now, trigger, essential, sum(read.values()) - essential))
        self.calls[day] = self.calls.get(day, 0) + sum(read.values())
        self.decisions.append((now, trigger, action, deferred))


def simulate(days: int, *, planned: bool, webhooks_per_hour: int = 8) -> Account:
    limits = PLANS["standard"]
    account = Account(limits.daily_calls, int(limits.daily_calls * 0.9))  # daily_call_share's default
    clock = random.Random(12)
    events = []
    for hour in range(24 * days):
        start = DAY + dt.timedelta(hours=hour)
        events.append((start, "timer", SCHEDULED_RUN))
        events += [(start + dt.timedelta(seconds=clock.randrange(60, 3600)), "webhook", WEBHOOK_RUN)
                   for _ in range(webhooks_per_hour)]
    for now, trigger, streams in sorted(events, key=lambda e: e[0]):
        account.run(now, trigger, streams, planned)
    return account


def test_a_standard_account_with_an_hourly_schedule_and_busy_webhooks_never_exceeds_its_daily_cap():
    unplanned = simulate(3, planned=False)
    assert all(calls > 1_000 for calls in unplanned.calls.values())  # the traffic alone would run the cap out

    planned = simulate(3, planned=True)
    assert len(planned.calls) == 3
    assert all(calls <= planned.allowance for calls in planned.calls.values()), planned.calls
    actions = [action for _, _, action, _ in planned.decisions]
    webhooks = [action for _, trigger, action, _ in planned.decisions if trigger == "webhook"]
    assert "refuse" not in webhooks  # the room the webhooks need is kept for them all day
    deferred = [streams for _, trigger, action, streams in planned.decisions if trigger == "timer" and streams]
    assert deferred and all(streams == ["directory"] for streams in deferred)
    skipped = [when for when, trigger, action, _ in planned.decisions if action == "skip"]
    assert len(skipped) >= 24  # the schedule stretched on every day
    # Stretched evenly: on each day some scheduled run goes in the morning and some in the evening.
    ran = [when for when, trigger, action, _ in planned.decisions if trigger == "timer" and action != "skip"]
    for day in range(3):
        hours = [w.hour for w in ran if w.date() == (DAY + dt.timedelta(days=day)).date()]
        assert min(hours) < 6 and max(hours) >= 18, hours
    assert actions.count("go") + actions.count("defer") + actions.count("skip") == len(actions)


# -- the rate of other runs: a burst is not a rate ---------------------------------------------------------------------
def poisson(per_hour: float, start: dt.datetime, end: dt.datetime, seed: int) -> list[dt.datetime]:
    clock, moment, out = random.Random(seed), start, []
    while (moment := moment + dt.timedelta(hours=clock.expovariate(per_hour))) < end:
        out.append(moment)
    return out


def test_two_manual_runs_a_minute_apart_on_a_new_connection_are_not_taken_for_two_runs_an_hour():
    burst = [DAY + dt.timedelta(minutes=1), DAY + dt.timedelta(minutes=2)]
    rate = other_rate(burst, DAY + dt.timedelta(minutes=5), since=DAY)
    assert rate == pytest.approx(1 / 3)  # one run over the three hours a first hour's runs are spread over (was 2.0)
    later = DAY + dt.timedelta(hours=6, minutes=3)
    assert other_rate(burst, later, since=DAY) == 0  # out of the trailing window: it no longer weighs on the day


@pytest.mark.parametrize("per_hour", [0.5, 2, 8, 30])
def test_a_steady_rate_is_counted_whole(per_hour):
    now = DAY + dt.timedelta(hours=30)
    rates = [other_rate(poisson(per_hour, DAY, now, seed), now, since=DAY) for seed in range(300)]
    assert sum(rates) / len(rates) == pytest.approx(per_hour, rel=0.06)  # (the bias is 3 % at most)


def test_a_burst_on_top_of_steady_webhooks_counts_little_more_than_the_webhooks():
    now = DAY + dt.timedelta(hours=12)
    webhooks = poisson(8, DAY, now, seed=5)
    burst = [now - dt.timedelta(hours=2, seconds=s) for s in range(0, 600, 20)]  # 30 manual runs in ten minutes
    steady = other_rate(webhooks, now, since=DAY)
    with_burst = other_rate(webhooks + burst, now, since=DAY)
    assert steady == pytest.approx(8, rel=0.25)
    assert with_burst - steady < 1.0  # the 30 runs count as a handful over the six hours, not 5 an hour
    assert other_rate(webhooks + burst, now + OTHER_WINDOW, since=DAY) == pytest.approx(
        other_rate(webhooks, now + OTHER_WINDOW, since=DAY))


def simulate_day(extra: list[tuple[dt.datetime, str, dict[str, int]]], rate: str = "planner") -> Account:
    """A new Standard-plan account's first day: the hourly schedule and `extra` runs; all planned."""
    limits = PLANS["standard"]
    account = Account(limits.daily_calls, int(limits.daily_calls * 0.9))
    events = [(DAY + dt.timedelta(hours=h), "timer", SCHEDULED_RUN) for h in range(24)] + extra
    for now, trigger, streams in sorted(events, key=lambda e: e[0]):
        account.run(now, trigger, streams)
    return account


def held_back(account: Account) -> list[int]:
    """The hours whose scheduled run did not go as planned (directory deferred, or skipped)."""
    return [when.hour for when, trigger, action, _ in account.decisions if trigger == "timer" and action != "go"]


def test_a_burst_of_manual_runs_early_in_the_day_does_not_defer_the_directory_for_the_rest_of_the_day(monkeypatch):
    burst = [(DAY + dt.timedelta(minutes=30, seconds=20 * i), "manual", WEBHOOK_RUN) for i in range(30)]
    planned = simulate_day(burst)
    assert held_back(planned) == [], planned.decisions[:40]
    assert all(calls <= planned.allowance for calls in planned.calls.values())

    # The rate as it was taken before (runs / max(1 h, the span of history)) held the directory back for hours.
    def per_span(started, now, since=None):
        return len(list(started)) / max(1.0, (now - (since or now)).total_seconds() / 3600)

    monkeypatch.setattr("shared.budgets.planner.other_rate", per_span)
    assert len(held_back(simulate_day(burst))) >= 5


def test_a_steady_high_rate_of_webhook_runs_still_defers_the_directory_and_stretches_the_schedule():
    clock = random.Random(7)
    webhooks = [(DAY + dt.timedelta(hours=h, seconds=clock.randrange(3600)), "webhook", WEBHOOK_RUN)
                for h in range(24) for _ in range(8)]
    planned = simulate_day(webhooks)
    assert all(calls <= planned.allowance for calls in planned.calls.values()), planned.calls
    held = held_back(planned)
    assert len(held) >= 18 and max(held) == 23  # from the first hours to the last
    assert "skip" in [action for _, _, action, _ in planned.decisions]
    assert "refuse" not in [action for _, trigger, action, _ in planned.decisions if trigger == "webhook"]
