"""Who is calling and what they may do: Entra ID people, scoped API keys for machines; deny by default."""

from api.auth.authenticator import Authenticator
from api.auth.deps import check_connection, requires
from api.auth.principal import CONNECTIONS_ADMIN, METRICS_READ, SCOPES, SYNC_RUN, Principal

__all__ = ["CONNECTIONS_ADMIN", "METRICS_READ", "SCOPES", "SYNC_RUN", "Authenticator", "Principal",
           "check_connection", "requires"]
