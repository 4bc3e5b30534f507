"""What local runs (`make demo`, `make api`) need beyond the services: demo secrets, an API-key pepper, a key.

Everything lives in .local/ (gitignored) with owner-only permissions; nothing here is used in Azure, where the
pepper is a Key Vault secret and keys are created with `python -m api.auth create`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from api.auth.keys import PEPPER_SECRET, ApiKeys, KeyRejected
from api.auth.principal import SCOPES
from shared.core.secrets import env_name
from shared.db.connect import connect

LOCAL = Path(".local")
PEPPER_FILE = LOCAL / "api-key-pepper"
KEY_FILE = LOCAL / "api-key"


def _private_file(path: Path, make: Callable[[], str]) -> str:
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(value + "\n")
    return value


def prepare(demo_secrets: dict[str, str]) -> None:
    """Set the demo connections' secrets and the local pepper in the environment, unless already set."""
    for name, value in demo_secrets.items():
        os.environ.setdefault(env_name(name), value)
    os.environ.setdefault(env_name(PEPPER_SECRET), _private_file(PEPPER_FILE, lambda: secrets.token_urlsafe(32)))


def local_api_key() -> str:
    """The local all-scopes key in .local/api-key, created (or replaced, if it no longer verifies) as needed."""
    keys = ApiKeys(connect)
    if KEY_FILE.exists():
        text = KEY_FILE.read_text(encoding="utf-8").strip()
        try:
            keys.verify(text)
            return text
        except KeyRejected:
            KEY_FILE.unlink()
    issued = keys.create("local development", SCOPES, actor=f"cli:{os.environ.get('USER', 'local')}")
    return _private_file(KEY_FILE, lambda: issued.text)
