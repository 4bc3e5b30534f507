"""A logging filter that masks credentials in every record a handler emits, whatever logger it came from.

Handlers, not loggers, carry it: a logger's filter sees only records logged on that very logger, a handler's sees
every record that reaches it (the Application Insights handler on the root logger sees the whole app).
"""

from __future__ import annotations

import logging
import re

MASK = "***"
# What a credential looks like when it slips into a message: API keys, bearer tokens and JWTs, and the value of
# anything named like a secret in a query string, a form, a header dump or JSON.
_PATTERNS = (
    re.compile(r"bzk_[A-Za-z0-9]{6,}_[A-Za-z0-9_-]{20,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    re.compile(r"(?i)((?:access_token|refresh_token|client_secret|api_key|apikey|password|secret|token)"
               r"[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;}]{4,}"),
    re.compile(r"([?&]code=)[^&\s]+"),  # an OAuth authorization code in a logged URL
    re.compile(r"(?i)(AccountKey=)[^;\s]+"),
)


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks credentials in a record's final message (arguments merged in first, so none escapes through them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def protect(handler: logging.Handler) -> logging.Handler:
    """Give `handler` the filter once."""
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())
    return handler
