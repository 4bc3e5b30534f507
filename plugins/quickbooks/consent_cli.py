"""Connect a QuickBooks company from a terminal: print Intuit's consent URL, then finish with the URL the
browser was sent back to (pasted on stdin, or given later with --redirect-url while the state is valid).

    python -m plugins.quickbooks.consent_cli --connection-id acme [--environment sandbox] [--redirect-uri URI]
    python -m plugins.quickbooks.consent_cli --connection-id acme --redirect-url 'http://localhost:7071/...?code=..'
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import TextIO
from urllib.parse import parse_qs, urlsplit

from plugins.quickbooks import oauth
from plugins.quickbooks.consent import ConsentError, ConsentSetupError, begin_consent, complete_consent
from plugins.quickbooks.settings import REDIRECT_URI_SETTING
from shared.core.http import ApiError
from shared.core.secrets import SecretNotFound
from shared.db.connect import connect
from shared.tokens.crypto import CryptoError
from shared.tokens.oauth_states import InvalidState

# The local Functions host's callback route; it must be one of the app's redirect URIs at Intuit.
DEFAULT_REDIRECT_URI = "http://localhost:7071/api/connections/quickbooks/callback"


def parse_redirect(url: str) -> dict[str, str]:
    """code, state, realmId and error from the URL Intuit redirected the browser to."""
    query = parse_qs(urlsplit(url.strip()).query)
    return {name: query[name][0] for name in ("code", "state", "realmId", "error") if query.get(name)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m plugins.quickbooks.consent_cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connection-id", required=True)
    parser.add_argument("--environment", default="sandbox", choices=oauth.ENVIRONMENTS)
    parser.add_argument("--redirect-uri", default=os.environ.get(REDIRECT_URI_SETTING) or DEFAULT_REDIRECT_URI,
                        help=f"redirect URI registered with the Intuit app (default: {REDIRECT_URI_SETTING}, "
                             f"else {DEFAULT_REDIRECT_URI})")
    parser.add_argument("--redirect-url", help="the URL the browser landed on after consent (skips the prompt)")
    return parser


def main(argv: list[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    args = _parser().parse_args(argv)
    try:
        landed = args.redirect_url
        if not landed:
            # Started from a terminal: no browser cookie binds it, so only this command can finish it.
            url = begin_consent(args.connection_id, args.environment, actor=f"cli:{getpass.getuser()}",
                                redirect_to=args.redirect_uri, conn_factory=connect)
            print("Open this URL in a browser, sign in and choose the company:", file=stderr)
            print(url, file=stdout, flush=True)
            print("Then paste the URL the browser was redirected to (valid for 10 minutes):", file=stderr)
            landed = stdin.readline().strip()
            if not landed:
                print("No URL read. Finish later with --redirect-url '<that URL>' within 10 minutes.", file=stderr)
                return 2
        found = parse_redirect(landed)
        done = complete_consent(found.get("code", ""), found.get("state", ""), found.get("realmId", ""),
                                error=found.get("error"), expected_connection_id=args.connection_id,
                                conn_factory=connect)
    except (ConsentError, ConsentSetupError, InvalidState, ApiError, CryptoError, SecretNotFound, ValueError) as exc:
        # KeyError (SecretNotFound) would print its message quoted.
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"Not connected: {message}", file=stderr)
        return 1
    print(f"Connected {done.connection_id} to QuickBooks company {done.realm_id} ({done.environment}).", file=stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
