"""In-memory OpenTelemetry providers for the tests (set once per process: OpenTelemetry allows one global each).

`metric_sums(name, **attributes)` sums a metric's data points whose attributes include those given;
`last_gauge(name, **attributes)` reads a gauge; SPANS holds every finished span."""

from __future__ import annotations

from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

READER = InMemoryMetricReader()
SPANS = InMemorySpanExporter()
metrics.set_meter_provider(MeterProvider(metric_readers=[READER]))
_tracing = TracerProvider()
_tracing.add_span_processor(SimpleSpanProcessor(SPANS))
trace.set_tracer_provider(_tracing)


def _points(name: str) -> list[Any]:
    data = READER.get_metrics_data()
    found = []
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found += list(metric.data.data_points)
    return found


def _matches(point: Any, attributes: dict[str, Any]) -> bool:
    return all(point.attributes.get(k) == v for k, v in attributes.items())


def metric_sum(name: str, **attributes: Any) -> float:
    """Counters: the cumulative sum; histograms: the sum of recorded values; over matching points."""
    return sum(p.sum if hasattr(p, "sum") else p.value for p in _points(name) if _matches(p, attributes))


def metric_count(name: str, **attributes: Any) -> int:
    return sum(p.count for p in _points(name) if _matches(p, attributes))


def last_gauge(name: str, **attributes: Any) -> float | None:
    values = [p.value for p in _points(name) if _matches(p, attributes)]
    return values[-1] if values else None
