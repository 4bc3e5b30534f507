"""The app settings access control reads (app settings in Azure, local.settings.json locally)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

TENANT_ID = "BIZ_ENTRA_TENANT_ID"
AUDIENCE = "BIZ_ENTRA_AUDIENCE"
TRUST_APP_SERVICE_AUTH = "BIZ_TRUST_APP_SERVICE_AUTH"
# A tenant id is a GUID or a domain; it goes into the signing-keys URL, so nothing else may pass.
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")


@dataclass(frozen=True)
class AuthSettings:
    entra_tenant_id: str | None
    entra_audiences: tuple[str, ...]
    trust_app_service_auth: bool


def load_auth_settings() -> AuthSettings:
    """Read and check the settings now; a half-configured Entra or an unclear trust flag is an error at startup."""
    tenant = (os.environ.get(TENANT_ID) or "").strip() or None
    audiences = tuple(a.strip() for a in (os.environ.get(AUDIENCE) or "").split(",") if a.strip())
    if tenant and not _TENANT.fullmatch(tenant):
        raise ValueError(f"{TENANT_ID} must be the tenant's id (a GUID) or domain")
    if bool(tenant) != bool(audiences):
        raise ValueError(f"Set both {TENANT_ID} and {AUDIENCE} (the API's application id URI and/or client id, "
                         "comma-separated) to accept Entra ID tokens, or neither")
    trust = (os.environ.get(TRUST_APP_SERVICE_AUTH) or "false").strip().lower()
    if trust not in ("true", "false"):
        raise ValueError(f"{TRUST_APP_SERVICE_AUTH} must be true or false, got {trust!r}")
    return AuthSettings(tenant, audiences, trust == "true")
