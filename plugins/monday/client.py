"""Sending one GraphQL document to monday: through the account's budget gate and the shared retrying client,
then checking the version monday actually served and what the query cost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from plugins.monday.budget import AccountBudget, CallGate, DailyCounter
from plugins.monday.errors import classify
from plugins.monday.queries import DOCUMENTS
from plugins.monday.settings import SUPPORTED_API_VERSIONS, MondaySettings
from plugins.monday.storage import MondayStore
from plugins.monday.timestamps import iso
from shared.core import meters
from shared.core.http import ApiClient, ApiError, Classifier, Response, Verdict


@dataclass
class Answer:
    """The `data` of a successful response, when it was observed, and the version monday served."""

    data: dict[str, Any]
    observed_at: str
    served_version: str | None


def served_version(response: Response) -> str | None:
    return next((v for k, v in response.headers.items() if k.lower() == "api-version"), None)


def classifier_for(budget: AccountBudget, counter: DailyCounter) -> Classifier:
    """The classifier, telling the account's budget when monday refused for a budget reason anyway."""

    def judge(response: Response) -> Verdict:
        verdict = classify(response)
        if verdict.kind == "throttle":
            budget.on_refusal(verdict.code, verdict.retry_after, counter)
        return verdict

    return judge


@dataclass
class MondayClient(ApiClient):
    """The shared ApiClient, plus what a monday call needs: the pinned version, the account's budgets and the
    storage the activity lent for this fetch."""

    settings: MondaySettings | None = None
    budget: AccountBudget | None = None
    gate: CallGate | None = None
    store: MondayStore | None = None

    def _check_version(self, served: str | None) -> None:
        assert self.settings is not None
        if served is None:
            return
        if served != self.settings.api_version and self.settings.version_mismatch == "fail":
            # monday routes a retired version to a supported one and an unknown one to the current one, silently:
            # the documents and the User shape were checked against the pinned version only.
            raise ApiError(
                f"monday served API version {served} although the connection pins {self.settings.api_version}: "
                f"monday no longer serves {self.settings.api_version} (a retired version is answered by another "
                f"one). Set the connection's api_version to one this plugin supports "
                f"({', '.join(SUPPORTED_API_VERSIONS)}) that monday still serves, or upgrade the plugin; "
                "version_mismatch: accept reads on anyway", code="VERSION_MISMATCH")

    async def query(self, kind: str, variables: dict[str, Any], *, rows: int, extra_cost: int = 0) -> Answer:
        """Send DOCUMENTS[kind]; `rows` (the page size) lets the budget expect the right cost."""
        assert self.settings is not None and self.budget is not None and self.gate is not None
        self.gate.prepare(kind, self.budget.complexity.expected_cost(kind, rows, extra_cost))
        body = {"query": DOCUMENTS[kind], "variables": {k: v for k, v in variables.items() if v is not None}}
        charge = None
        try:
            async with self.budget.in_flight():
                response = await self.request("POST", f"{self.settings.base_url}/v2", json=body)
            self._check_version(served_version(response))
            doc = response.json()
            data = doc.get("data") if isinstance(doc, dict) else None
            if not isinstance(data, dict):
                raise ApiError(f"monday answered the {kind} query without data", transient=True)
            charge = data.get("complexity") if isinstance(data.get("complexity"), dict) else None
            if charge is not None and isinstance(charge.get("after"), int | float):
                # What monday says the account's per-minute complexity budget has left (an operator's gauge).
                meters.budget_remaining.set(charge["after"], {"source": "monday",
                                                              "connection_id": self.settings.connection_id,
                                                              "budget": "complexity_per_minute"})
            version = data.get("version")
            if isinstance(version, dict) and version.get("value"):
                self._check_version(str(version["value"]))
        finally:
            self.gate.finish(charge, rows)
        return Answer(data=data, observed_at=iso(dt.datetime.now(dt.UTC)), served_version=served_version(response))


