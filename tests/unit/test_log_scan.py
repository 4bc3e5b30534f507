"""The session's log scan catches a credential an app logger emits, and lets ordinary lines through."""

from __future__ import annotations

import logging

from tests.log_scan import SecretScan


def test_the_scan_flags_credential_shapes_only():
    scan = SecretScan()
    log = logging.getLogger("activities.scan-probe")
    log.addHandler(scan)
    log.setLevel(logging.INFO)
    log.propagate = False  # this probe's planted credentials must not reach the session-wide scan
    try:
        log.info("refreshed the access token; it expires in 3600 s")
        log.info("GET /api/syncs -> 200 (key:abcdefghij)")
        assert scan.findings == []
        log.info("calling with Authorization: Bearer %s", "abcdefghijklmnopqrstuvwxyz")
        log.warning("key bzk_abcdefghij_%s refused", "A" * 43)
    finally:
        log.removeHandler(scan)
        log.propagate = True
    assert len(scan.findings) == 2 and all("***" in f for f in scan.findings)
    assert not any("abcdefghijklmnopqrstuvwxyz" in f for f in scan.findings)
