"""Checkout on one web process and one worker: orders created per second, payment webhooks processed
per second, and the time from a payment webhook to the order's completion on the buyer's WebSocket.

A real `veza serve` (pinned to core 0) and a real `veza worker` (core 1, with the load) run against a
database of their own, made fresh for each run, PAYMENT_GATEWAY=sandbox and PUBLIC_URL pointing at the
web process. Every phase starts once the worker's queue is empty (what a phase leaves queued, such as
the invoice renders and payouts of the orders it completed, is drained first, and the time that takes
is printed):

1. orders: --clients concurrent buyers POST /marketplace/orders (two products, an Idempotency-Key
   each) for --seconds; the figure is created orders per second, with the answers' p50/p99.
2. webhooks: --webhooks of those orders' payment_succeeded events, signed as Hyperswitch signs them, are
   POSTed to /webhooks/hyperswitch by --clients concurrent senders; each one completes an order in
   one transaction (licenses, sales counts, seller transfers, invoice number, notifications).
3. webhook -> completed: --completions new orders' payment_succeeded webhooks are POSTed, --rate a
   second, as Hyperswitch sends them in production; the time is from sending the webhook to the
   buyer's WebSocket receiving the order.completed notification.
4. confirm -> completed: as many orders are confirmed through POST /payments/sandbox/{id}/confirm,
   --rate a second; the worker's job delivers each signed webhook to the web process, which completes
   the order (the sandbox gateway's path; arq polls its queue every 0.5 s, most of this figure).

    .venv/bin/python -m tests.bench.checkout [--clients 16] [--seconds 10] [--webhooks 500]
        [--completions 200] [--rate 20]

Needs PostgreSQL and Redis as configured; it makes and migrates a database `<name>_checkout_bench` of its
own, and empties the configured Redis db's arq queue first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

import aiohttp
import orjson
from arq.connections import ArqRedis
from arq.constants import default_queue_name

from tests.bench.http import LOAD_CPU, SERVER_CPU, free_port, stop, wait_healthy
from tests.bench.report import row
from tests.databases import migrated_database
from veza.constants import WORKER_HEARTBEAT_KEY
from veza.payments.signing import sign
from veza.redis import connect_arq
from veza.settings import load_settings

PASSWORD = "Correct-Horse-Battery-9"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timings(latencies: list[float]) -> str:
    return f"p50 {statistics.median(latencies) * 1000:.1f} ms  p99 {percentile(latencies, 0.99) * 1000:.1f} ms"


class Api:
    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base = http, base

    async def call(self, method: str, path: str, expect: int, **kwargs) -> dict:
        async with self.http.request(method, self.base + path, **kwargs) as resp:
            if resp.status != expect:
                raise SystemExit(f"{method} {path}: {resp.status} {await resp.text()}")
            return (await resp.json())["data"]

    async def user(self, run: str, n: int) -> dict:
        body = {"username": f"b{run}{n}", "email": f"bench-{run}-{n}@example.com", "password": PASSWORD}
        forwarded = {"X-Forwarded-For": f"10.9.{n // 250}.{n % 250}"}  # one client address each: no rate limit
        data = await self.call("POST", "/api/v1/auth/register", 201, json=body, headers=forwarded)
        return {"id": data["user"]["id"], "token": data["access_token"],
                "headers": {"Authorization": f"Bearer {data['access_token']}"}}  # fmt: skip

    async def product(self, seller: dict, n: int) -> str:
        form = aiohttp.FormData()
        form.add_field("file", b"RIFF....WAVE", filename="beat.wav", content_type="audio/wav")
        asset = await self.call("POST", "/api/v1/cloud/files", 201, data=form, headers=seller["headers"])
        body = {"title": f"Bench beat {n}", "kind": "beat", "price_cents": 1999 + n, "asset_file_id": asset["id"]}
        return (await self.call("POST", "/api/v1/marketplace/products", 201, json=body, headers=seller["headers"]))[
            "id"
        ]

    async def order(self, buyer: dict, products: list[str]) -> tuple[dict, float]:
        body = {"items": [{"product_id": p, "quantity": 1} for p in products], "payment_method": "card"}
        headers = {**buyer["headers"], "Idempotency-Key": uuid.uuid4().hex}
        start = time.perf_counter()
        data = await self.call("POST", "/api/v1/marketplace/orders", 201, json=body, headers=headers)
        return data, time.perf_counter() - start


async def create_orders(api: Api, buyers: list[dict], products: list[str], clients: int, seconds: float) -> list[dict]:
    created: list[dict] = []
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(n: int) -> None:
        buyer = buyers[n % len(buyers)]
        while time.perf_counter() < deadline:
            data, took = await api.order(buyer, products[(n % 2) * 2 : (n % 2) * 2 + 2])
            created.append(data)
            latencies.append(took)

    start = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - start
    print(
        f"orders:   {len(created) / elapsed:7.1f} created/s   ({len(created)} in {elapsed:.1f} s, {clients} clients)"
        f"   {timings(latencies)}"
    )
    row(
        f"orders created ({clients} clients, sandbox gateway)",
        f"{len(created) / elapsed:,.0f}/s, p99 {percentile(latencies, 0.99) * 1000:.0f} ms",
    )
    return created


def payment_webhook(secret: str, data: dict) -> tuple[bytes, dict[str, str]]:
    """The body and headers of the payment_succeeded webhook Hyperswitch sends for a created order."""
    order = data["order"]
    event = {
        "merchant_id": "merchant_bench",
        "event_id": f"evt_{uuid.uuid4().hex}",
        "event_type": "payment_succeeded",
        "content": {"type": "payment_details", "object": {
            "payment_id": data["payment"]["payment_id"], "status": "succeeded",
            "amount": order["total_cents"], "currency": order["currency"], "metadata": {}}},
        "timestamp": "2026-12-01T08:00:00.000Z",
    }  # fmt: skip
    body = orjson.dumps(event)
    return body, {"Content-Type": "application/json", "X-Webhook-Signature-512": sign(secret, body)}


async def send_webhooks(api: Api, secret: str, created: list[dict], clients: int) -> None:
    queue = list(created)
    latencies: list[float] = []

    async def sender() -> None:
        while queue:
            body, headers = payment_webhook(secret, queue.pop())
            start = time.perf_counter()
            await api.call("POST", "/api/v1/webhooks/hyperswitch", 200, data=body, headers=headers)
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    print(
        f"webhooks: {len(latencies) / elapsed:7.1f} processed/s ({len(latencies)} orders completed in {elapsed:.1f} s)"
        f"   {timings(latencies)}"
    )
    row(
        "payment webhooks processed (each completes an order)",
        f"{len(latencies) / elapsed:,.0f}/s, p99 {percentile(latencies, 0.99) * 1000:.0f} ms",
    )


async def until_completed(
    api: Api, buyers: list[dict], orders: list[dict], rate: float, pay: Callable[[dict, dict], Awaitable[None]]
) -> list[float]:
    """Pay each order with `pay(buyer, order)`, `rate` a second; the seconds from each payment's start to the
    buyer's WebSocket receiving its order.completed notification."""
    sent: dict[str, float] = {}
    done: dict[str, float] = {}
    finished = asyncio.Event()

    async def listen(buyer: dict, ready: asyncio.Event) -> None:
        async with api.http.ws_connect(f"{api.base}/api/v1/ws?token={buyer['token']}") as ws:
            await ws.send_json({"type": "subscribe", "channel": "notifications"})
            await ws.receive_json()
            ready.set()
            async for message in ws:
                event = orjson.loads(message.data)
                if event.get("event") == "notification.created" and event["data"]["type"] == "order.completed":
                    done[event["data"]["data"]["order_id"]] = time.perf_counter()
                    if len(done) == len(orders):
                        finished.set()
                        return

    readies = [asyncio.Event() for _ in buyers]
    listeners = [asyncio.create_task(listen(b, r)) for b, r in zip(buyers, readies, strict=True)]
    await asyncio.gather(*(r.wait() for r in readies))
    try:
        for n, data in enumerate(orders):
            sent[data["order"]["id"]] = time.perf_counter()
            await pay(buyers[n % len(buyers)], data)
            await asyncio.sleep(1 / rate)
        await asyncio.wait_for(finished.wait(), 60)
    finally:
        for task in listeners:
            task.cancel()
    return [done[order_id] - start for order_id, start in sent.items()]


def report_completions(what: str, latencies: list[float], rate: float, how: str) -> None:
    p50, p99 = statistics.median(latencies) * 1000, percentile(latencies, 0.99) * 1000
    print(f"{what}: p50 {p50:.0f} ms  p99 {p99:.0f} ms  max {max(latencies) * 1000:.0f} ms"
          f"   ({len(latencies)} orders, {rate:g} a second, {how})")  # fmt: skip
    figure = f"{what}, on the buyer's WebSocket ({len(latencies)} orders, {rate:g}/s)"
    row(figure, f"p99 {p99:.0f} ms (p50 {p50:.0f} ms)")


async def webhook_to_completed(api: Api, secret: str, buyers: list[dict], products: list[str], count: int,
                               rate: float) -> None:  # fmt: skip
    orders = [(await api.order(buyers[n % len(buyers)], products[:1]))[0] for n in range(count)]

    async def pay(_buyer: dict, data: dict) -> None:
        body, headers = payment_webhook(secret, data)
        await api.call("POST", "/api/v1/webhooks/hyperswitch", 200, data=body, headers=headers)

    latencies = await until_completed(api, buyers, orders, rate, pay)
    report_completions("payment webhook -> order completed", latencies, rate, "webhooks sent as Hyperswitch sends them")


async def confirm_to_completed(api: Api, buyers: list[dict], products: list[str], count: int, rate: float) -> None:
    orders = [(await api.order(buyers[n % len(buyers)], products[:1]))[0] for n in range(count)]

    async def pay(buyer: dict, data: dict) -> None:
        path = f"/api/v1/payments/sandbox/{data['payment']['payment_id']}/confirm"
        await api.call("POST", path, 200, json={"outcome": "succeeded"}, headers=buyer["headers"])

    latencies = await until_completed(api, buyers, orders, rate, pay)
    report_completions("sandbox confirm -> webhook job -> order completed", latencies, rate,
                       "through the worker's delivery job")  # fmt: skip


async def drained(arq: ArqRedis, worker: subprocess.Popen) -> None:
    """Wait until the worker's queue is empty (what the previous phase queued: invoices, payouts, deliveries)."""
    start, left = time.perf_counter(), await arq.zcard(default_queue_name)
    while await arq.zcard(default_queue_name) > 0:
        if worker.poll() is not None:
            raise SystemExit("the worker exited")
        await asyncio.sleep(0.1)
    if left:
        print(f"  (the worker's queue: {left} jobs drained in {time.perf_counter() - start:.1f} s)")


async def run(args: argparse.Namespace, base: str, secret: str, worker: subprocess.Popen) -> None:
    run_id = secrets.token_hex(4)
    connector = aiohttp.TCPConnector(limit=args.clients * 2)
    arq = connect_arq(load_settings())
    try:
        while not await arq.get(WORKER_HEARTBEAT_KEY):  # written once the worker's resources are open
            if worker.poll() is not None:
                raise SystemExit("the worker exited")
            await asyncio.sleep(0.2)
        async with aiohttp.ClientSession(connector=connector) as http:
            api = Api(http, base)
            seller = await api.user(run_id, 0)
            buyers = [await api.user(run_id, n) for n in range(1, 17)]
            products = [await api.product(seller, n) for n in range(4)]
            await drained(arq, worker)
            created = await create_orders(api, buyers, products, args.clients, args.seconds)
            await drained(arq, worker)
            await send_webhooks(api, secret, created[: args.webhooks], args.clients)
            await drained(arq, worker)
            await webhook_to_completed(api, secret, buyers, products, args.completions, args.rate)
            await drained(arq, worker)
            await confirm_to_completed(api, buyers, products, args.completions, args.rate)
    finally:
        await arq.aclose()


async def empty_queue() -> None:
    """No job of an earlier run (a queue left by a stopped worker) may run in this one."""
    arq = connect_arq(load_settings())
    await arq.delete(default_queue_name, WORKER_HEARTBEAT_KEY)
    await arq.aclose()


def own_database() -> str:
    configured = load_settings().database_url
    return migrated_database(configured, configured.rpartition("/")[2] + "_checkout_bench", fresh=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--webhooks", type=int, default=500, help="orders of phase 1 completed in phase 2")
    parser.add_argument("--completions", type=int, default=200, help="orders of phases 3 and 4 each")
    parser.add_argument("--rate", type=float, default=20)
    args = parser.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret = secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "DATABASE_URL": own_database(),
        "PUBLIC_URL": base,
        "PAYMENT_GATEWAY": "sandbox",
        "HYPERSWITCH_WEBHOOK_SECRET": secret,
        "JWT_SECRET": secrets.token_urlsafe(32),
        "TRUST_PROXY": "true",
        "ACCESS_LOG": "false",
        "LOG_LEVEL": "WARNING",
        "DB_POOL_MAX": "20",
    }
    asyncio.run(empty_queue())
    veza = [sys.executable, "-m", "veza"]
    processes = [
        subprocess.Popen(
            ["taskset", "-c", str(SERVER_CPU), *veza, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
        ),
        subprocess.Popen(["taskset", "-c", str(LOAD_CPU), *veza, "worker"], env=env, stdout=subprocess.DEVNULL),
    ]  # fmt: skip
    try:
        wait_healthy(f"{base}/api/v1/health")
        asyncio.run(run(args, base, secret, processes[1]))
    finally:
        stop(*processes)


if __name__ == "__main__":
    main()
