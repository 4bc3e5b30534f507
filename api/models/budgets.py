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


class BudgetList(BaseModel):
    budgets: list[HolderBudget]
