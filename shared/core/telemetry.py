"""Telemetry to Application Insights through OpenTelemetry, when a connection string is configured."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)
_configured = False


def configure_telemetry() -> bool:
    """Set up the Azure Monitor exporter once; a no-op (returns False) without a connection string."""
    global _configured
    if _configured:
        return True
    if not os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
        return False
    from azure.monitor.opentelemetry import configure_azure_monitor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    configure_azure_monitor(logger_name="bizmetrics")
    # azure-monitor-opentelemetry does not instrument psycopg 3 by itself.
    PsycopgInstrumentor().instrument()
    _configured = True
    log.info("telemetry to Application Insights configured")
    return True
