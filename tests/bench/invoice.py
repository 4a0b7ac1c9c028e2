"""Invoice PDFs: the time to render one, and the time to download one over HTTP.

1. Render: `render_pdf` of a three-line invoice, --renders times in this process (pinned to core 0),
   after a few warm-up renders; p50 and p99. Goal: p50 < 50 ms.
2. Download: one Veza web process (pinned to core 0; this process, the client, on core 1) on local
   storage. A buyer with --orders paid orders (tests.factories.paid_order: through the sandbox checkout);
   the first download of each renders and stores its PDF (p50/p99 of those), then --downloads GETs
   of stored invoices, one at a time (p50/p99), each checked to be the stored PDF.

    .venv/bin/python -m tests.bench.invoice [--renders 300] [--orders 30] [--downloads 500]

Needs PostgreSQL and Redis as configured; it makes and migrates a database `<name>_bench` of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
from yarl import URL

from tests.bench.http import LOAD_CPU, SERVER_CPU, bench_database, free_port, start, stop, wait_healthy
from tests.bench.report import row
from tests.factories import make_product, paid_order, register
from veza.marketplace.invoice_pdf import invoice_document, render_pdf
from veza.resources import running_resources
from veza.settings import load_settings

ITEMS = [("Night Drive", "lena_beats", 2999), ("Dusty Drum Kit", "milo_kits", 1450), ("Velvet Pads", "lena_beats", 999)]


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return statistics.median(seconds) * 1000, cuts[98] * 1000


def bench_render(renders: int) -> list[float]:
    document = invoice_document(
        {"year": datetime.now(UTC).year, "number": 42, "created_at": datetime.now(UTC)},
        {"id": uuid.uuid4(), "currency": "EUR", "total_cents": sum(price for _, _, price in ITEMS)},
        {"username": "ada_buyer", "email": "ada@example.com"},
        [{"title": t, "seller": {"username": s}, "quantity": 1, "unit_price_cents": p} for t, s, p in ITEMS],
    )
    for _ in range(5):
        render_pdf(document)
    timings = []
    for _ in range(renders):
        started = time.perf_counter()
        render_pdf(document)
        timings.append(time.perf_counter() - started)
    return timings


class BenchClient:
    """What tests.factories needs of a test client, over a real server: relative requests, URLs, the app."""

    def __init__(self, session: aiohttp.ClientSession, base: str, app: Any) -> None:
        self.session, self.base, self.app = session, base, app

    def post(self, path: str, **kwargs: Any):
        return self.session.post(path, **kwargs)

    def make_url(self, path: str) -> URL:
        return URL(self.base + path)


async def timed_get(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> tuple[float, bytes]:
    started = time.perf_counter()
    async with session.get(url, headers=headers) as resp:
        body = await resp.read()
    elapsed = time.perf_counter() - started
    if resp.status != 200 or resp.headers["Content-Type"] != "application/pdf" or not body.startswith(b"%PDF-"):
        raise SystemExit(f"download failed: {resp.status} {body[:200]!r}")
    return elapsed, body


async def bench_download(orders: int, downloads: int) -> tuple[list[float], list[float]]:
    database_url = bench_database()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret = secrets.token_urlsafe(32)  # the sandbox (in this process) signs the webhooks the server checks
    with tempfile.TemporaryDirectory(prefix="veza-bench-") as data_dir:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DATA_DIR": data_dir,
            "STORAGE_BACKEND": "local",
            "PUBLIC_URL": base,
            "PAYMENT_GATEWAY": "sandbox",
            "HYPERSWITCH_WEBHOOK_SECRET": secret,
            "LOG_LEVEL": "WARNING",
            "ACCESS_LOG": "false",
        }
        command = [sys.executable, "-m", "veza", "serve", "--host", "127.0.0.1", "--port", str(port)]
        server = start(command, env)
        settings = load_settings(database_url=database_url, data_dir=data_dir, hyperswitch_webhook_secret=secret)
        try:
            await asyncio.to_thread(wait_healthy, f"{base}/api/v1/health")
            async with (
                running_resources(settings) as app,
                aiohttp.ClientSession(base_url=base) as session,
            ):
                client = BenchClient(session, base, app)
                tag = uuid.uuid4().hex[:8]
                buyer = await register(client, username=f"bench_buyer_{tag}", email=f"buyer_{tag}@example.com")
                seller = await register(client, username=f"bench_seller_{tag}", email=f"seller_{tag}@example.com")
                product = await make_product(client, seller, title="Night Drive")
                order_ids = [(await paid_order(client, buyer, product))["id"] for _ in range(orders + 1)]
                urls = [f"/api/v1/marketplace/orders/{order_id}/invoice" for order_id in order_ids]
                headers = buyer["headers"]

                await timed_get(session, urls.pop(), headers)  # warm-up: code paths, pools
                first = [(await timed_get(session, url, headers))[0] for url in urls]
                stored = {url: (await timed_get(session, url, headers))[1] for url in urls}
                again = []
                for n in range(downloads):
                    url = urls[n % len(urls)]
                    elapsed, body = await timed_get(session, url, headers)
                    if body != stored[url]:
                        raise SystemExit("a download differs from the stored PDF")
                    again.append(elapsed)
        finally:
            stop(server)
    return first, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=300)
    parser.add_argument("--orders", type=int, default=30)
    parser.add_argument("--downloads", type=int, default=500)
    args = parser.parse_args()

    os.sched_setaffinity(0, {SERVER_CPU})
    render = percentiles(bench_render(args.renders))
    os.sched_setaffinity(0, {LOAD_CPU})
    first, again = asyncio.run(bench_download(args.orders, args.downloads))

    print(f"invoice render (render_pdf, 3 lines, {args.renders} renders, one core)")
    print(f"  p50 {render[0]:6.1f} ms   p99 {render[1]:6.1f} ms   (goal p50 < 50 ms)")
    row("render one invoice PDF", f"p50 {render[0]:.1f} ms, p99 {render[1]:.1f} ms", "p50 < 50 ms", render[0] < 50)
    row("download of a stored invoice, over HTTP", "p50 {:.1f} ms, p99 {:.1f} ms".format(*percentiles(again)))
    print("GET /marketplace/orders/{id}/invoice over HTTP, one web process, local storage, one request at a time")
    print(
        "  first download (render + store + serve), {} orders: p50 {:6.1f} ms   p99 {:6.1f} ms".format(
            len(first), *percentiles(first)
        )
    )
    print(
        "  stored PDF, {} downloads:                    p50 {:6.1f} ms   p99 {:6.1f} ms".format(
            len(again), *percentiles(again)
        )
    )


if __name__ == "__main__":
    main()
