"""A scan of every record the app's own loggers emit during the test run, for anything that looks like a credential.

Installed by tests/conftest.py for the whole session: a handler on the app's logger names (at INFO) keeps what
matched; at the end the run fails, naming the logger and a masked excerpt, if anything did. Only strong shapes are
looked for (API keys, bearer tokens, JWTs, storage account keys, the suite's own fixed test secrets), so a message
that merely says "token" is not a finding."""

from __future__ import annotations

import logging
import re

from shared.core.redaction import redact

APP_LOGGERS = ("api", "activities", "orchestrators", "plugins", "shared", "devhost", "function_app")
# The fixed secrets the suite's fixtures use (tests/integration/helpers.py TOKEN, the oauth fixtures' client
# secret, tests/api_calls.py's pepper), and the shapes of real credentials.
SHAPES = (
    re.compile(r"bzk_[a-z0-9]{10}_[A-Za-z0-9_-]{43,}"),
    re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr]\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{16,}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    re.compile(r"AccountKey=(?!\*\*\*)[A-Za-z0-9+/=]{20,}"),
    re.compile(r"test-access-token|test-pepper-for-api-calls"),
)


SHAPES_MASK = re.compile("|".join(f"(?:{shape.pattern})" for shape in SHAPES))


class SecretScan(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.findings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a record whose arguments do not format is not this scan's business
            return
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        for shape in SHAPES:
            found = shape.search(text)
            if found:
                excerpt = SHAPES_MASK.sub("***", redact(text))[:80]
                self.findings.append(f"{record.name}: {found.group(0)[:6]}*** in {excerpt!r}")
                return


SCAN = SecretScan()


def install() -> None:
    for name in APP_LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(SCAN)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
