"""Who is calling and what they may do: Entra ID people, scoped API keys for machines; deny by default."""

from api.auth.principal import SCOPES, Principal
from api.auth.deps import requires

__all__ = ["SCOPES", "Principal", "requires"]
