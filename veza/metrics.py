"""Prometheus metrics, kept per application (no global registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.process_collector import ProcessCollector

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        # Its _count series is the request count by method, route template and status.
        self.requests = Histogram(
            "veza_http_request_duration_seconds",
            "HTTP request latency (and, as _count, the number of requests) by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        # Its _count is the number of invoice PDFs rendered: each invoice should be rendered once.
        self.invoice_renders = Histogram(
            "veza_invoice_render_seconds",
            "Time to render an invoice PDF (and, as _count, the number rendered)",
            registry=self.registry,
        )
        # labels() costs a lock and a lookup per call; the set of children is small and bounded.
        self._children: dict[tuple[str, str, int], Histogram] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.requests.labels(method, route, str(status))
        child.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
