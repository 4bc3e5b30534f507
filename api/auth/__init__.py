"""Who is calling and what they may do: Entra ID people, scoped API keys for machines; deny by default."""

from api.auth.deps import requires
from api.auth.principal import SCOPES, Principal

__all__ = ["SCOPES", "Principal", "requires"]
