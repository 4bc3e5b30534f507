"""The authenticated caller every protected route receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# App roles (Entra) and API-key scopes share these names.
METRICS_READ = "Metrics.Read"
SYNC_RUN = "Sync.Run"
CONNECTIONS_ADMIN = "Connections.Admin"
SCOPES = (METRICS_READ, SYNC_RUN, CONNECTIONS_ADMIN)


@dataclass(frozen=True)
class Principal:
    """A person (Entra ID) or a machine (API key) with the scopes it holds.

    `connections` is None for access to every connection, else the allow-list (API keys may carry one).
    `actor` is what audit records and sync_runs.started_by store: "user:<oid> (<name>)" or "key:<key id>",
    never a credential."""

    kind: Literal["user", "key"]
    subject: str
    name: str
    scopes: frozenset[str]
    connections: frozenset[str] | None = None

    @property
    def actor(self) -> str:
        return f"user:{self.subject} ({self.name})" if self.kind == "user" else f"key:{self.subject}"

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def may_use(self, connection_id: str) -> bool:
        return self.connections is None or connection_id in self.connections
