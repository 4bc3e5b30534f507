"""The budget planner: pure functions over numbers that project a metered budget to its reset and decide, before a
run, whether it goes, goes without its low-priority streams, is skipped to stretch the schedule, or is refused.

What it knows: the budget (used, what syncs may spend, when it resets), what recent runs of the connections
sharing it cost (per trigger, split into essential and deferrable calls), the timer's schedule (scheduled runs
left until the reset) and the rate of the other runs (webhooks, API starts) over the recent window. A source's
specifics stay in its plugin: which streams are deferrable, who holds the budget, its limits.

The decision, cheapest first:
- refuse: the essential streams of this run alone would run the budget out (or it is out already);
- go: everything projected to the reset fits;
- defer: it fits when every run leaves its deferrable streams (reports, directories) for later;
- skip (scheduled runs only): even then it does not fit, so the schedule is stretched: of the scheduled runs left,
  only as many as fit go, evenly spaced; this one goes when the last one that went is at least that far back.
  A run that is not scheduled (a webhook's, a caller's) is not skipped: it defers and leaves the room to it.

The rate of the other runs (other_rate) is the one estimate a burst could inflate: two manual runs a minute apart
on a new connection, taken as a rate, were 48 runs a day. It is counted over the trailing OTHER_WINDOW in buckets
of OTHER_BUCKET, each bucket counting at most BURST_FLOOR + BURST_SHARE x the mean of the other buckets, and spread
over at least PRIOR_SPAN: so a lone burst counts as one run, and leaves the window after six hours.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

from shared.budgets.ncrontab import fires_between

SCHEDULED = "timer"  # the trigger of the runs SYNC_SCHEDULE starts
DEFAULT_WINDOW = dt.timedelta(hours=24)
# The rate of runs that are not scheduled (other_rate): the trailing window it is counted over, cut into buckets.
OTHER_WINDOW = dt.timedelta(hours=6)
OTHER_BUCKET = dt.timedelta(minutes=10)
# A bucket counts at most BURST_FLOOR + BURST_SHARE x the mean of the window's other buckets. A steady rate's buckets
# rarely pass that (simulated Poisson arrivals of 0.5 to 30 an hour are counted at 97-101 %); a burst's bucket
# always does, and counts as the floor when nothing else ran.
BURST_SHARE = 3.0
BURST_FLOOR = 1
# The rate is spread over at least this long: a first hour's runs are not yet a rate. The hours before any history
# stand for the prior, the schedule alone (no other runs).
PRIOR_SPAN = dt.timedelta(hours=3)
# A timer fires a little late now and then: a run due by the stretched spacing within this share still goes.
SPACING_SLACK = 0.9
ACTIONS = ("go", "defer", "skip", "refuse")


@dataclass(frozen=True)
class Allowance:
    """One budget as the planner sees it; `allowance` is the part of `limit` syncs may spend."""

    name: str
    holder: str
    used: int
    limit: int
    allowance: int
    resets_at: dt.datetime

    @property
    def remaining(self) -> int:
        return max(0, self.allowance - self.used)


@dataclass(frozen=True)
class RunCost:
    """What one past run spent of the budget (summed over the connections sharing it)."""

    started_at: dt.datetime
    trigger: str
    essential: int
    deferrable: int = 0

    @property
    def total(self) -> int:
        return self.essential + self.deferrable


@dataclass(frozen=True)
class Cost:
    essential: float = 0.0
    deferrable: float = 0.0

    @property
    def total(self) -> float:
        return self.essential + self.deferrable


@dataclass(frozen=True)
class Rates:
    """Recent runs summarised: the mean cost of a scheduled run, and how often other runs come and what they cost.

    `known` is False without any run in the window: nothing can be projected then."""

    scheduled: Cost | None
    other: Cost | None
    other_per_hour: float
    known: bool
    last_scheduled_at: dt.datetime | None = None


@dataclass(frozen=True)
class Outlook:
    """A budget projected to its reset."""

    used: int
    allowance: int
    limit: int
    resets_at: dt.datetime
    scheduled_runs_left: int
    other_runs_expected: float
    projected: int | None  # every planned run going as planned; None: no recent runs to project from
    projected_deferring: int | None  # every run leaving its deferrable streams


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str
    outlook: Outlook
    deferrable_saved: int = 0


def _mean(runs: list[RunCost]) -> Cost | None:
    if not runs:
        return None
    return Cost(sum(r.essential for r in runs) / len(runs), sum(r.deferrable for r in runs) / len(runs))


def other_rate(started: Iterable[dt.datetime], now: dt.datetime, since: dt.datetime | None = None) -> float:
    """Runs an hour that are not scheduled, from their start times, estimated so that a burst cannot inflate it.

    Over the trailing OTHER_WINDOW, or the history there is (`since`: the oldest run known) when that is shorter but
    never less than PRIOR_SPAN, runs are counted per OTHER_BUCKET, each bucket at most BURST_FLOOR + BURST_SHARE x
    the mean of the other buckets, and divided by that span. Why each piece:
    - the trailing window: a burst leaves the estimate after six hours instead of weighing on the rest of the day;
    - the cap per bucket: a steady rate (webhooks) spreads over the buckets and is counted whole (the mean of the
      others carries it), a burst piles into one or two buckets and counts as one run more than what the other
      buckets suggest; several busy hours still count in full, so a steady high rate still defers and stretches;
    - PRIOR_SPAN: what the first minutes of a connection's history saw is spread over three hours at least (the
      hours without history counting as hours of the schedule alone), not taken as an hourly rate.
    A steady rate that just began is averaged over the window (and its first hour's buckets count a little less
    than they hold) until the window is full of it; the governors' hard caps hold meanwhile."""
    span = min(OTHER_WINDOW, max(PRIOR_SPAN, now - since if since is not None else OTHER_WINDOW))
    buckets = max(2, math.ceil(span / OTHER_BUCKET))
    counts = [0] * buckets
    for moment in started:
        if now - span < moment <= now:
            counts[min(buckets - 1, int((now - moment) / OTHER_BUCKET))] += 1
    total = sum(counts)
    counted = sum(min(count, BURST_FLOOR + BURST_SHARE * (total - count) / (buckets - 1)) for count in counts)
    return counted / (span.total_seconds() / 3600)


def summarize(history: Iterable[RunCost], now: dt.datetime, window: dt.timedelta = DEFAULT_WINDOW) -> Rates:
    """Rates over the runs that started in (now - window, now] and spent something (a skipped run costs nothing):
    the mean cost of each kind over the window, and the rate of other runs over the trailing OTHER_WINDOW
    (other_rate: a burst of manual runs is not taken for a rate)."""
    recent = [r for r in history if now - window < r.started_at <= now]
    spent = [r for r in recent if r.total > 0]
    scheduled = [r for r in spent if r.trigger == SCHEDULED]
    other = [r for r in spent if r.trigger != SCHEDULED]
    return Rates(scheduled=_mean(scheduled), other=_mean(other),
                 other_per_hour=other_rate((r.started_at for r in other), now,
                                           since=min((r.started_at for r in recent), default=None)),
                 known=bool(spent),
                 last_scheduled_at=max((r.started_at for r in scheduled), default=None))


def project(budget: Allowance, rates: Rates, now: dt.datetime, schedule: str | None,
            this_run: Cost | None = None) -> Outlook:
    """Use at the reset: what is used, this run (if any), the scheduled runs left and the other runs expected."""
    hours = max(0.0, (budget.resets_at - now).total_seconds() / 3600)
    runs_left = fires_between(schedule, now, budget.resets_at) if schedule else 0
    others = rates.other_per_hour * hours
    if not rates.known:
        return Outlook(budget.used, budget.allowance, budget.limit, budget.resets_at, runs_left, others, None, None)
    run = this_run or Cost()
    scheduled = rates.scheduled or Cost()
    other = rates.other or Cost()
    full = budget.used + run.total + runs_left * scheduled.total + others * other.total
    lean = budget.used + run.essential + runs_left * scheduled.essential + others * other.essential
    return Outlook(budget.used, budget.allowance, budget.limit, budget.resets_at, runs_left, others,
                   math.ceil(full), math.ceil(lean))


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def decide(budget: Allowance, rates: Rates, now: dt.datetime, schedule: str | None, trigger: str,
           remedies: str) -> Decision:
    """What this run does about `budget`; `remedies` says what an operator can change (the plugin's words)."""
    scheduled = trigger == SCHEDULED
    this_run = (rates.scheduled if scheduled else rates.other) or rates.scheduled or rates.other or Cost()
    outlook = project(budget, rates, now, schedule, this_run)
    spent = f"{budget.used:,} of {budget.allowance:,} calls syncs may spend (limit {budget.limit:,})"
    if budget.used >= budget.allowance or budget.used + this_run.essential > budget.allowance:
        need = f"; this run needs about {math.ceil(this_run.essential):,}" if this_run.essential else ""
        return Decision("refuse", f"{budget.name} of {budget.holder} would run out: {spent} are used{need}. "
                                  f"Syncing works again after {_when(budget.resets_at)}; or {remedies}", outlook)
    if outlook.projected is None or outlook.projected <= budget.allowance:
        return Decision("go", "", outlook)
    projected = f"projected {outlook.projected:,} of {budget.allowance:,} by {_when(budget.resets_at)}"
    saved = math.ceil(this_run.deferrable)
    assert outlook.projected_deferring is not None
    if outlook.projected_deferring <= budget.allowance:
        return Decision("defer", f"{budget.name} of {budget.holder}: {projected}; low-priority streams deferred "
                                 f"(projected {outlook.projected_deferring:,} without them)", outlook, saved)
    lean = f"{projected}, {outlook.projected_deferring:,} even without low-priority streams"
    if not scheduled:
        return Decision("defer", f"{budget.name} of {budget.holder}: {lean}; low-priority streams deferred and the "
                                 "schedule stretched to leave room for this run", outlook, saved)
    per_run = (rates.scheduled or this_run).essential
    room = budget.allowance - budget.used - outlook.other_runs_expected * (rates.other or Cost()).essential
    fits = int(room // per_run) if per_run > 0 else outlook.scheduled_runs_left + 1
    hours = (budget.resets_at - now).total_seconds() / 3600
    if fits <= 0:
        return Decision("skip", f"{budget.name} of {budget.holder}: {lean}; the room left is kept for runs that are "
                                "not scheduled (webhooks, API starts)", outlook)
    spacing = dt.timedelta(hours=hours / fits)
    last = rates.last_scheduled_at
    if last is not None and now - last < spacing * SPACING_SLACK:
        return Decision("skip", f"{budget.name} of {budget.holder}: {lean}; schedule stretched to one run every "
                                f"{_duration(spacing)} ({fits} of {outlook.scheduled_runs_left + 1} scheduled runs "
                                f"fit before {_when(budget.resets_at)})", outlook)
    return Decision("defer", f"{budget.name} of {budget.holder}: {lean}; low-priority streams deferred and the "
                             f"schedule stretched to one run every {_duration(spacing)}", outlook, saved)


def _duration(span: dt.timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def strictest(decisions: Iterable[Decision]) -> Decision | None:
    """The decision that binds a run when it spends several budgets: refuse over skip over defer over go."""
    ranked = sorted(decisions, key=lambda d: ACTIONS.index(d.action), reverse=True)
    return ranked[0] if ranked else None
