"""Prometheus metrics, kept per application (no global registry)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.utils import floatToGoString

CONTENT_TYPE = CONTENT_TYPE_LATEST


class RequestDurations:
    """A histogram of request durations by method, route template and status, exposed like a
    prometheus_client Histogram (same name, buckets, series) but observed without its locks.

    A labelled Histogram takes a lock per bucket and per sum on every observation: a few
    microseconds per request. Here an observation is a bisect and two additions on plain
    lists, which is safe because only the event loop's thread observes and renders.
    """

    NAME = "veza_http_request_duration_seconds"
    DOCUMENTATION = "HTTP request latency (and, as _count, the number of requests) by method, route template and status"
    LABELS = ("method", "route", "status")
    BOUNDS = Histogram.DEFAULT_BUCKETS[:-1]  # the +Inf bucket is the total count

    def __init__(self) -> None:
        # (method, route, status) -> per-bucket counts (the last for +Inf), then the sum of durations
        self._series: dict[tuple[str, str, int], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = [0] * (len(self.BOUNDS) + 1) + [0.0]
        series[bisect_left(self.BOUNDS, seconds)] += 1
        series[-1] += seconds

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self.NAME, self.DOCUMENTATION, labels=self.LABELS)]

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.NAME, self.DOCUMENTATION, labels=self.LABELS)
        for (method, route, status), series in list(self._series.items()):
            cumulative, buckets = 0, []
            for bound, count in zip((*self.BOUNDS, float("inf")), series[:-1], strict=True):
                cumulative += count
                buckets.append((floatToGoString(bound), cumulative))
            family.add_metric([method, route, str(status)], buckets, series[-1])
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        # Its _count series is the request count by method, route template and status.
        self.requests = RequestDurations()
        self.registry.register(self.requests)
        # Its _count is the number of invoice PDFs rendered: each invoice should be rendered once.
        self.invoice_renders = Histogram(
            "veza_invoice_render_seconds",
            "Time to render an invoice PDF (and, as _count, the number rendered)",
            registry=self.registry,
        )
        self.observe = self.requests.observe

    def render(self) -> bytes:
        return generate_latest(self.registry)
