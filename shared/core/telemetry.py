"""Telemetry to Application Insights through OpenTelemetry, when a connection string is configured.

Every app logger reaches it: the exporter's handler sits on the root logger (modules log under their own
names, `activities.fetch`, `api.routes.syncs`, ...), with the redaction filter on it; the Azure SDK's own chatty
loggers are held to warnings.
"""

from __future__ import annotations

import logging
import os

from shared.core.redaction import protect

log = logging.getLogger(__name__)
_configured = False
# Libraries whose INFO records are per-request noise (and may echo URLs): warnings and up only.
QUIET_LOGGERS = ("azure", "urllib3", "aiohttp.access", "httpx")


def configure_telemetry() -> bool:
    """Set up the Azure Monitor exporter once; a no-op (returns False) without a connection string."""
    global _configured
    if _configured:
        return True
    if not os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
        return False
    from azure.monitor.opentelemetry import configure_azure_monitor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    configure_azure_monitor(logger_name="")
    root = logging.getLogger()
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    for handler in root.handlers:
        protect(handler)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # azure-monitor-opentelemetry does not instrument psycopg 3 by itself.
    PsycopgInstrumentor().instrument()
    _configured = True
    log.info("telemetry to Application Insights configured")
    return True
