"""The app's own metrics and spans (OpenTelemetry), exported to Application Insights where telemetry is configured.

Instruments come from the global providers, so they are no-ops until a provider is set (configure_telemetry in
Azure; an in-memory reader in the tests). Attributes are ids and names, never secrets.

    bizmetrics.records.fetched        counter   source, connection_id, stream
    bizmetrics.records.loaded         counter   source, connection_id, stream, outcome (inserted, updated, ...)
    bizmetrics.pages                  counter   source, connection_id, stream, phase (fetched, loaded)
    bizmetrics.api.calls              counter   source, connection_id, stream
    bizmetrics.throttle.waits         counter   source, connection_id, stream
    bizmetrics.load.rows_per_second   histogram source, connection_id, stream
    bizmetrics.sync.duration          histogram (s) scope, status
    bizmetrics.budget.remaining       gauge     source, connection_id, budget (calls_today, calls_this_month, ...)
    bizmetrics.budget.used_share      gauge     source, connection_id, budget (0-1: the alerts' measure)
    bizmetrics.token.days_to_expiry   gauge     source, connection_id, token (access, refresh)
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import metrics, trace

_meter = metrics.get_meter("bizmetrics")
tracer = trace.get_tracer("bizmetrics")

records_fetched = _meter.create_counter("bizmetrics.records.fetched", unit="{record}",
                                        description="Records fetched from a source")
records_loaded = _meter.create_counter("bizmetrics.records.loaded", unit="{record}",
                                       description="Records loaded, by outcome")
pages = _meter.create_counter("bizmetrics.pages", unit="{page}", description="Pages fetched and loaded")
api_calls = _meter.create_counter("bizmetrics.api.calls", unit="{call}", description="Calls to a source's API")
throttle_waits = _meter.create_counter("bizmetrics.throttle.waits", unit="{wait}",
                                       description="Times a source asked the sync to wait")
load_rate = _meter.create_histogram("bizmetrics.load.rows_per_second", unit="{record}/s",
                                    description="Rows per second of one load_pages call")
sync_duration = _meter.create_histogram("bizmetrics.sync.duration", unit="s", description="A run, start to end")
budget_remaining = _meter.create_gauge("bizmetrics.budget.remaining", unit="{call}",
                                       description="What a source's metered budget has left")
budget_used_share = _meter.create_gauge("bizmetrics.budget.used_share", unit="1",
                                        description="How much of a source's metered budget is spent (0-1)")
token_days = _meter.create_gauge("bizmetrics.token.days_to_expiry", unit="d",
                                 description="Days until a stored OAuth token expires")

LOAD_OUTCOMES = ("inserted", "updated", "unchanged", "deleted", "quarantined")


def stream_attributes(source: str, connection_id: str, stream: str) -> dict[str, str]:
    return {"source": source, "connection_id": connection_id, "stream": stream}


def record_load(attributes: Mapping[str, str], counts: Mapping[str, int], seconds: float) -> None:
    for outcome in LOAD_OUTCOMES:
        if counts.get(outcome):
            records_loaded.add(counts[outcome], {**attributes, "outcome": outcome})
    if counts.get("pages"):
        pages.add(counts["pages"], {**attributes, "phase": "loaded"})
    rows = counts.get("fetched", 0)
    if rows and seconds > 0:
        load_rate.record(rows / seconds, attributes)
