"""Connections as the API shows and takes them: health, token dates, budgets; create and change requests."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.limits import SafeText
from api.models.budgets import BudgetOut, LiveBudgetOut
from api.models.common import ConnectionId, Settings

# A credential is long enough for any source's API token and short enough to stay out of trouble.
Credential = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^[\x21-\x7e]+$")]
PluginName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class Health(BaseModel):
    status: str = Field(description="ok, or action_required when someone has to act (e.g. reconnect)")
    reason: str | None = Field(None, description="Why action is required")
    changed_at: dt.datetime | None = None
    enabled: bool = Field(description="Disabled connections are kept but never synced")


class OAuthTokens(BaseModel):
    """Dates of the stored OAuth tokens (never the tokens)."""

    consented_at: dt.datetime
    access_expires_at: dt.datetime
    refresh_expires_at: dt.datetime | None
    last_refreshed_at: dt.datetime | None
    refresh_count: int


class ConnectionOut(BaseModel):
    connection_id: str
    plugin: str
    display_name: str
    health: Health
    settings: dict[str, Any] = Field(description="The connection's settings, without credentials or their names")
    stored_credentials: list[str] = Field(description="Credentials given through the API and stored encrypted "
                                                      "(names only; values are write-only)")
    oauth: OAuthTokens | None = None
    budgets: list[BudgetOut]
    live_budgets: list[LiveBudgetOut] = Field(
        default_factory=list, description="The per-minute budgets the connection spends (complexity points, "
                                          "requests per minute or second, requests in flight), as they stand now")
    warnings: list[str]
    created_at: dt.datetime


class ConnectionList(BaseModel):
    connections: list[ConnectionOut]
    sealed_with: dict[str, int] | None = Field(
        None, description="Stored tokens and credentials per encryption key id (null for a credential limited to "
                          "some connections). After rotating the key, `python -m shared.tokens.reencrypt` moves them "
                          "to the current one; retire the old key when it counts none.")


class ConnectionCreate(BaseModel):
    """A new connection of an installed plugin; its settings are checked by the plugin."""

    model_config = ConfigDict(extra="forbid")

    connection_id: ConnectionId
    plugin: PluginName
    display_name: Annotated[SafeText, StringConstraints(min_length=1, max_length=200)]
    settings: Settings = Field(default_factory=dict)
    enabled: bool = True
    api_token: Credential | None = Field(None, description="Write-only: the source's API token, stored encrypted "
                                                           "(for plugins that take one); never returned")


class ConnectionUpdate(BaseModel):
    """What to change; a field left out stays as it is. `settings` replaces the settings whole."""

    model_config = ConfigDict(extra="forbid")

    display_name: Annotated[SafeText, StringConstraints(min_length=1, max_length=200)] | None = None
    enabled: bool | None = None
    settings: Settings | None = None
    api_token: Credential | None = Field(None, description="Write-only: a new API token (rotation); never returned")


class ReconnectLink(BaseModel):
    connection_id: str
    url: str = Field(description="Path on this API an operator opens in a browser to connect the account again")


class ReconciliationLine(BaseModel):
    month: dt.date
    measure: str
    computed: str = Field(description="What the metrics computed (decimal as text)")
    reported: str = Field(description="What the source's own report says (decimal as text)")
    difference: str = Field(description="computed - reported (decimal as text)")


class Reconciliation(BaseModel):
    connection_id: str
    lines: list[ReconciliationLine]
