"""Move every stored token and credential to the current encryption key, and count which key ids they use.

    python -m shared.tokens.reencrypt [--dry-run]

Rotation: put the new key in `token-encryption-key` and the old one in `token-encryption-key-previous`, run this,
and once it reports no row on the old key id, drop the old key. Each connection is re-sealed in its own
transaction under its refresh lock, so it can run while syncs refresh tokens. Prints key ids (public fingerprints)
and connection ids, never key material or tokens.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

import psycopg

from shared.db.connect import connect
from shared.tokens.connection_secrets import reseal_secret, stale_secrets
from shared.tokens.crypto import CryptoError, Keyring
from shared.tokens.store import reseal


def key_usage(conn: psycopg.Connection) -> dict[str, int]:
    """How many connections' stored tokens each key id seals (for the connections listing and rotation)."""
    # OAuth tokens (one row per connection) and credentials given through the API (connection_secrets).
    rows = conn.execute("""SELECT key_id, count(*) FROM (SELECT key_id FROM oauth_tokens
                                                          UNION ALL SELECT key_id FROM connection_secrets) sealed
                           GROUP BY key_id ORDER BY key_id""").fetchall()
    return {key_id: count for key_id, count in rows}


@dataclass
class Reencrypted:
    current_id: str
    before: dict[str, int]
    after: dict[str, int] = field(default_factory=dict)
    moved: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # connection id -> why (no secret in it)

    @property
    def done(self) -> bool:
        """Every stored token uses the current key."""
        return set(self.after) <= {self.current_id}


def reencrypt_all(conn_factory: Callable[[], psycopg.Connection], keyring: Keyring, *,
                  dry_run: bool = False) -> Reencrypted:
    """Re-seal every connection's tokens that another key sealed; one transaction per connection."""
    with conn_factory() as conn:
        report = Reencrypted(keyring.current_id, key_usage(conn))
        stale = [row[0] for row in conn.execute(
            "SELECT connection_id FROM oauth_tokens WHERE key_id <> %s ORDER BY connection_id",
            (keyring.current_id,)).fetchall()]
        conn.rollback()
        stale_credentials = stale_secrets(conn, keyring.current_id)
        conn.rollback()
        for connection_id in stale if not dry_run else ():
            try:
                with conn.transaction():
                    if reseal(conn, connection_id, keyring):
                        report.moved.append(connection_id)
            except CryptoError as exc:
                report.failed[connection_id] = str(exc)
        for connection_id, name in stale_credentials if not dry_run else ():
            try:
                with conn.transaction():
                    if reseal_secret(conn, connection_id, name, keyring):
                        report.moved.append(f"{connection_id} ({name})")
            except CryptoError as exc:
                report.failed[f"{connection_id} ({name})"] = str(exc)
        report.after = key_usage(conn) if not dry_run else dict(report.before)
        conn.rollback()
    return report


def _usage(counts: dict[str, int], current_id: str) -> str:
    if not counts:
        return "  (no stored tokens)"
    return "\n".join(f"  {key_id}: {count}{'  (current)' if key_id == current_id else ''}"
                     for key_id, count in counts.items())


def main(argv: list[str] | None = None, *, out: TextIO | None = None,
         conn_factory: Callable[[], psycopg.Connection] = connect) -> int:
    """0 when every stored token uses the current key afterwards, 1 otherwise (the failures are listed)."""
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m shared.tokens.reencrypt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="only count the rows per key id")
    args = parser.parse_args(argv)
    try:
        keyring = Keyring.from_secrets()
    except CryptoError as exc:
        print(f"Cannot re-encrypt: {exc}", file=out)
        return 2
    report = reencrypt_all(conn_factory, keyring, dry_run=args.dry_run)
    print(f"Current key id: {report.current_id}", file=out)
    print(f"Before (connections per key id):\n{_usage(report.before, report.current_id)}", file=out)
    if not args.dry_run:
        print(f"Re-encrypted {len(report.moved)} connection(s) with the current key.", file=out)
        for connection_id, why in report.failed.items():
            print(f"  not re-encrypted: {connection_id}: {why}", file=out)
        print(f"After:\n{_usage(report.after, report.current_id)}", file=out)
    return 0 if report.done else 1


if __name__ == "__main__":
    raise SystemExit(main())
