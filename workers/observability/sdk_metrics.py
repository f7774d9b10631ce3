"""The Temporal SDK's own metrics (client and worker: polls, task latencies, workflow and
activity completions, slots...) on the same Prometheus endpoint as the DOM's.

The SDK's core records into a MetricBuffer; `TemporalMetrics` drains it (every second, and on
every scrape) into counters, gauges and histograms that it exposes as a prometheus_client
collector. One scrape endpoint per process, one naming convention: counters end in `_total`,
durations are seconds with a `_seconds` suffix, e.g. `temporal_activity_execution_latency_seconds`
and `temporal_workflow_completed_total`. The alternative -- the core's own Prometheus exporter
(PrometheusConfig) -- would be a second HTTP server and port per process, with its own names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
)

log = logging.getLogger("dom.observability")

# Task and poll latencies: from a millisecond sticky task to a minute-long schedule-to-start.
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Drained at least this often; with the buffer below that is ~100k updates a second of room.
DRAIN_INTERVAL_S = 1.0
BUFFER_SIZE = 100_000
DURATION_UNITS = {"duration", "ms", "milliseconds", "s", "seconds"}
_BAD_LABEL = re.compile(r"[^a-zA-Z0-9_]")

Labels = tuple[tuple[str, str], ...]


@dataclass
class _Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))
    count: int = 0
    total: float = 0.0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(LATENCY_BUCKETS):
            if value <= bound:
                self.buckets[i] += 1
                break
        self.count += 1
        self.total += value


@dataclass
class _Series:
    kind: int
    name: str
    doc: str
    values: dict[Labels, Any] = field(default_factory=dict)


def _labels(attributes: Mapping[str, Any]) -> Labels:
    return tuple(sorted((_BAD_LABEL.sub("_", k), str(v)) for k, v in attributes.items()))


def _exposed_name(name: str, kind: int, unit: str | None) -> str:
    name = _BAD_LABEL.sub("_", name)
    if kind == BUFFERED_METRIC_KIND_COUNTER:
        return name.removesuffix("_total")  # the family adds it back
    if unit in DURATION_UNITS and not name.endswith("_seconds"):
        return f"{name}_seconds"
    return name


class TemporalMetrics(Collector):
    """A MetricBuffer drained into Prometheus series. Thread-safe: the scrape runs on the
    metrics server's thread, the periodic drain on the event loop."""

    def __init__(self, buffer: MetricBuffer) -> None:
        self.buffer = buffer
        self._lock = threading.Lock()
        self._series: dict[str, _Series] = {}

    def drain(self) -> int:
        try:
            updates = self.buffer.retrieve_updates()
        except RuntimeError:  # the runtime is not built yet: nothing recorded either
            return 0
        with self._lock:
            for update in updates:
                metric = update.metric
                name = _exposed_name(metric.name, metric.kind, metric.unit)
                series = self._series.get(name)
                if series is None:
                    series = self._series[name] = _Series(
                        metric.kind, name, metric.description or metric.name
                    )
                key = _labels(update.attributes)
                if metric.kind == BUFFERED_METRIC_KIND_COUNTER:
                    series.values[key] = series.values.get(key, 0) + update.value
                elif metric.kind == BUFFERED_METRIC_KIND_GAUGE:
                    series.values[key] = update.value
                else:
                    hist = series.values.get(key)
                    if hist is None:
                        hist = series.values[key] = _Histogram()
                    hist.observe(float(update.value))
        return len(updates)

    def collect(self) -> Iterator[Metric]:
        self.drain()
        with self._lock:
            families = [self._family(s) for s in self._series.values()]
        yield from families

    def _family(self, s: _Series) -> Metric:
        names = sorted({k for labels in s.values for k, _ in labels})
        family: Any
        if s.kind == BUFFERED_METRIC_KIND_COUNTER:
            family = CounterMetricFamily(s.name, s.doc, labels=names)
        elif s.kind == BUFFERED_METRIC_KIND_GAUGE:
            family = GaugeMetricFamily(s.name, s.doc, labels=names)
        else:
            family = HistogramMetricFamily(s.name, s.doc, labels=names)
        for labels, value in s.values.items():
            as_dict = dict(labels)
            values = [as_dict.get(n, "") for n in names]
            if isinstance(value, _Histogram):
                cumulative, running = [], 0
                for bound, n in zip(LATENCY_BUCKETS, value.buckets, strict=True):
                    running += n
                    cumulative.append((repr(bound), float(running)))
                cumulative.append(("+Inf", float(value.count)))
                family.add_metric(values, buckets=cumulative, sum_value=value.total)
            else:
                family.add_metric(values, float(value))
        return family


@dataclass(frozen=True)
class TemporalTelemetry:
    runtime: Runtime
    metrics: TemporalMetrics

    @contextlib.asynccontextmanager
    async def draining(self, interval: float = DRAIN_INTERVAL_S) -> AsyncIterator[None]:
        """Drain the buffer every `interval` seconds while the block runs (a scrape drains
        too, but scrapes may be minutes apart or absent, and a full buffer drops updates)."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                self.metrics.drain()

        task = asyncio.create_task(loop(), name="temporal-metrics-drain")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.metrics.drain()


_telemetry: TemporalTelemetry | None = None
_telemetry_lock = threading.Lock()


def temporal_telemetry() -> TemporalTelemetry:
    """The process's Temporal runtime whose metrics reach the default Prometheus registry
    (one per process: each Runtime owns a thread pool). Pass `.runtime` to Client.connect."""
    global _telemetry
    with _telemetry_lock:
        if _telemetry is None:
            buffer = MetricBuffer(BUFFER_SIZE, MetricBufferDurationFormat.SECONDS)
            runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
            metrics = TemporalMetrics(buffer)
            REGISTRY.register(metrics)
            _telemetry = TemporalTelemetry(runtime, metrics)
        return _telemetry
