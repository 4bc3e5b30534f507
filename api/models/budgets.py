"""Budgets as the API shows them: per connection (in the connection's view) and per holder (a developer app, an
account), with what the planner projects at the reset and what it held back."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class HeldBack(BaseModel):
    """A planner decision that held something back: streams deferred, a scheduled run skipped, a run refused."""

    run_id: str
    connection_id: str
    action: str = Field(description="defer, skip or refuse")
    deferred: list[str] = Field(description="Streams left for a later run (defer)")
    reason: str
    decided_at: dt.datetime


class BudgetOut(BaseModel):
    """A metered allowance of the connection's source and what is left of it."""

    name: str = Field(description="e.g. calls_this_month, calls_today")
    used: int
    limit: int
    remaining: int
    resets_at: dt.datetime
    shared_by: str = Field(description="Who else spends this allowance (it is often the account's or the app's)")
    holder: str = Field("", description="Who owns the allowance (a developer app's fingerprint, an account); "
                                        "connections with the same holder spend the same budget")
    allowance: int = Field(0, description="The part of the limit syncs may spend (the rest is left to other clients)")
    projected_at_reset: int | None = Field(
        None, description="Use projected at the reset if every planned run goes (schedule, webhook rate and recent "
                          "runs); null before any run to project from")
    connection_calls_this_month: int = Field(0, description="This connection's own metered calls this month")
    held_back: list[HeldBack] = Field(default_factory=list,
                                      description="What the planner deferred, skipped or refused until the reset")


class HolderBudget(BaseModel):
    """One budget of one holder, shared by the connections listed."""

    plugin: str
    holder: str
    name: str
    used: int
    limit: int
    allowance: int
    remaining: int = Field(description="What syncs may still spend before the reset")
    resets_at: dt.datetime
    projected_at_reset: int | None
    shared_by: str
    connections: list[str] = Field(description="The connections spending it (those the credential may see)")
    calls_by_connection: dict[str, int] = Field(description="Each connection's own metered calls this month")
    held_back: list[HeldBack]


class LiveBudgetOut(BaseModel):
    """A budget the source meters per minute or second (or requests in flight), as every worker shares it right now:
    read from the workers' own bookkeeping, so it moves from one request to the next."""

    plugin: str
    holder: str = Field(description="Who holds it, as its plugin names the shared budget: an account, a realm")
    name: str = Field(description="e.g. complexity_per_minute, requests_per_minute, requests_per_second, "
                                  "requests_in_flight")
    kind: str = Field(description="points (a budget the source reports on each answer), requests (sent in a "
                                  "sliding window) or in_flight (being answered now)")
    used: int = Field(description="points: the limit less what the source last reported left, less what was sent "
                                  "since; requests: sent in the last window_seconds; in_flight: being answered")
    limit: int = Field(description="What the source allows")
    remaining: int = Field(description="limit - used")
    allowance: int = Field(description="What the workers keep to (the rest is left to the holder's other clients)")
    window_seconds: float | None = Field(None, description="The window counted (points, requests)")
    resets_at: dt.datetime | None = Field(
        None, description="points: when the source said the window starts again (null: a fresh window); "
                          "requests: when the oldest request in the window leaves it (null: none in it)")
    pending: int | None = Field(None, description="points: of `used`, those of queries sent and not answered yet")
    reported_at: dt.datetime | None = Field(None, description="points: the last report or query taken")
    measured_at: dt.datetime = Field(description="The database's clock when this was read")
    connections: list[str] = Field(default_factory=list,
                                   description="The connections spending it (those the credential may see)")


class BudgetList(BaseModel):
    budgets: list[HolderBudget]
    live: list[LiveBudgetOut] = Field(
        default_factory=list, description="The per-minute budgets (complexity points, requests per minute or second, "
                                          "requests in flight) per account or realm, as they stand now")
