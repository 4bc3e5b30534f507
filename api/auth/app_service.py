"""People signed in by App Service Authentication ("Easy Auth"): the `X-MS-CLIENT-PRINCIPAL` header.

App Service validates the token itself and passes the caller as base64 JSON in this header, replacing any copy
the client sent. That guarantee holds only behind App Service Authentication, so the header is read only when
BIZ_TRUST_APP_SERVICE_AUTH is "true"; anywhere else any client could write it, and it is ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from api.auth.entra import TokenRejected, principal_from_claims
from api.auth.principal import Principal

HEADER = "x-ms-client-principal"
_MAX_CHARS = 32_768
# Claim types App Service uses for what an access token calls oid, roles and the user's name.
_ALIASES = {
    "http://schemas.microsoft.com/identity/claims/objectidentifier": "oid",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/role": "roles",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": "name",
}
_LISTS = {"roles"}


def principal_from_header(value: str) -> Principal:
    """The user App Service authenticated, or TokenRejected when the header does not decode."""
    if len(value) > _MAX_CHARS:
        raise TokenRejected("invalid_credentials", "The client principal header is too long")
    try:
        document: Any = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise TokenRejected("invalid_credentials", "The client principal header is not base64 JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("claims"), list):
        raise TokenRejected("invalid_credentials", "The client principal header has no claims")
    role_type = document.get("role_typ")
    name_type = document.get("name_typ")
    claims: dict[str, Any] = {}
    for claim in document["claims"]:
        if not isinstance(claim, dict) or not isinstance(claim.get("typ"), str) or not isinstance(claim.get("val"),
                                                                                                   str):
            continue
        typ = "roles" if claim["typ"] == role_type else _ALIASES.get(claim["typ"], claim["typ"])
        if claim["typ"] == name_type and typ not in ("preferred_username", "upn"):
            typ = "name"
        if typ in _LISTS:
            claims.setdefault(typ, []).append(claim["val"])
        else:
            claims.setdefault(typ, claim["val"])
    return principal_from_claims(claims)
