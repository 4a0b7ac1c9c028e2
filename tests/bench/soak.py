"""Soak: mixed traffic for --minutes on two web processes sharing one port and one worker.

`veza serve --processes 2` (SO_REUSEPORT) and `veza worker` run against a fresh database of their
own (`<name>_soak`), local storage in a temporary folder, the sandbox payment gateway (its signed
webhooks delivered by the worker to the web port) and the sandbox Connect gateway. One load process
(asyncio, aiohttp) then runs, side by side:

- browsing: the catalog (every sort, paged), products, their reviews, live streams, a stream;
- searching: the catalog's search and tag suggestions;
- buying: orders of one or two products (with an Idempotency-Key), their sandbox payments confirmed
  (the worker delivers each payment webhook, which completes the order and notifies buyer and seller),
  the orders read back; the notifications listed and marked read;
- logins, each user from its own address;
- uploads and downloads: files of 16-256 KiB uploaded to the cloud, downloaded through their signed
  link, the oldest deleted;
- streams going live and ending: nginx-rtmp's callbacks posted as nginx posts them (form fields
  app/name/addr/clientid/call, the secret in the URL): on_publish, on_update every 5 s, on_publish_done;
  viewers' on_play/on_play_done on the streams live at the time;
- 2,000 WebSockets (--sockets), 50 for each of the 40 users, each following `notifications` and `live`.

Clients come from many addresses (TRUST_PROXY and one X-Forwarded-For per user), as behind a router.

Figures: requests served and 5xx (the load's own answers, and the web processes' access logs, which
include the worker's webhook deliveries); p50/p99 per route family; each process's RSS at the start,
after warm-up (--warmup, a tenth of the run by default) and at the end (goal: growth under 10% after
warm-up); error lines in the logs; events delivered against events published (goal: all) -- the
published ones counted by a Redis pattern subscription of the load's own on the real-time channels,
each multiplied by the sockets that follow its channel; orders confirmed against orders completed.

    .venv/bin/python -m tests.bench.soak [--minutes 10] [--sockets 2000]

`main(argv)` returns the figures as (figure, value, goal, met) rows for a benchmark table.
Needs PostgreSQL and Redis as configured (REDIS_URL picks the db).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil
import psycopg2
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tests.bench.http import free_port, wait_healthy
from tests.bench.report import row
from tests.databases import migrated_database
from veza.realtime.publish import Channels
from veza.redis import redis_db
from veza.settings import load_settings

PASSWORD = "Correct-Horse-Battery-9"
USERS = {"seller": 8, "buyer": 24, "streamer": 8}  # 40 users, each holding sockets/40 WebSockets
PRODUCTS_PER_SELLER = 5
LOOPS = {"browse": 10, "search": 4, "buy": 4, "files": 2, "notifications": 2, "viewers": 2, "auth": 1}
RSS_GROWTH_GOAL = 0.10
WORDS = ["night", "drive", "lofi", "trap", "piano", "drums", "vocal", "ambient", "bass", "synth"]
SORTS = ["newest", "price_asc", "price_desc", "popular"]
DRAIN_SECONDS = 60  # after the load stops, for the worker's last webhooks and the sockets' last events


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def soak_database() -> str:
    """A fresh, migrated `<name>_soak`: each run starts from the same empty state."""
    configured = load_settings().database_url
    return migrated_database(configured, configured.rpartition("/")[2] + "_soak", fresh=True)


# --- the load -------------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # by route family
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    unexpected: list[str] = field(default_factory=list)  # samples of answers the load did not expect
    errors: Counter = field(default_factory=Counter)  # client-side failures (timeouts, resets) by family

    def record(self, family: str, status: int, took: float) -> None:
        self.latencies[family].append(took)
        self.statuses[family][status] += 1


class Load:
    def __init__(self, http: aiohttp.ClientSession, base: str, rtmp_secret: str, stats: Stats) -> None:
        self.http, self.base, self.rtmp_secret, self.stats = http, base, rtmp_secret, stats
        self.users: dict[str, list[dict]] = {}
        self.products: list[str] = []
        self.streams: list[str] = []
        self.orders: list[str] = []  # confirmed (succeeded) orders
        self.stop = asyncio.Event()

    async def call(self, family: str, method: str, path: str, expect: tuple[int, ...] = (200,), **kwargs):
        """One request, timed under its route family; its JSON data (or raw body), None if unexpected."""
        start = time.perf_counter()
        try:
            async with self.http.request(method, self.base + path, **kwargs) as resp:
                body = await resp.read()
                took = time.perf_counter() - start
                self.stats.record(family, resp.status, took)
                if resp.status not in expect:
                    if len(self.stats.unexpected) < 20:
                        self.stats.unexpected.append(f"{method} {path} -> {resp.status} {body[:200]!r}")
                    return None
                if resp.content_type == "application/json" and body:
                    return json.loads(body).get("data", {})
                return body
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.stats.errors[f"{family}: {type(exc).__name__}"] += 1
            return None

    async def register(self, role: str, n: int) -> dict:
        name = f"{role}{n}"
        address = f"10.{len(self.users)}.{n // 250}.{n % 250}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        data = await self.call(
            "auth", "POST", "/api/v1/auth/register", (201,), json=body, headers={"X-Forwarded-For": address}
        )
        if data is None:
            raise SystemExit(f"could not register {name}: {self.stats.unexpected[-1:]}")
        return {
            "id": data["user"]["id"],
            "email": body["email"],
            "token": data["access_token"],
            "address": address,
            "headers": {"Authorization": f"Bearer {data['access_token']}", "X-Forwarded-For": address},
        }

    async def setup(self) -> None:
        for role, count in USERS.items():
            self.users[role] = [await self.register(role, n) for n in range(count)]
        for seller in self.users["seller"]:
            onboarding = await self.call(
                "sell", "POST", "/api/v1/sell/connect/onboard", (200, 201), headers=seller["headers"]
            )
            if onboarding is None or not onboarding.get("onboarding_url"):
                raise SystemExit(f"seller onboarding failed: {self.stats.unexpected[-1:]} {onboarding}")
            # Opening the sandbox's signed link is what completes onboarding.
            await self.call(
                "sell",
                "GET",
                onboarding["onboarding_url"].removeprefix(self.base),
                (200, 302, 303),
                allow_redirects=False,
            )
            for n in range(PRODUCTS_PER_SELLER):
                asset = await self.upload(seller, 4096)
                body = {
                    "title": f"{random.choice(WORDS).title()} {random.choice(WORDS)} {n}",
                    "kind": "beat",
                    "price_cents": random.randint(499, 4999),
                    "asset_file_id": asset["id"],
                    "tags": random.sample(WORDS, 2),
                }
                product = await self.call(
                    "sell", "POST", "/api/v1/marketplace/products", (201,), json=body, headers=seller["headers"]
                )
                if product is None:
                    raise SystemExit(f"product creation failed: {self.stats.unexpected[-1:]}")
                self.products.append(product["id"])
        for streamer in self.users["streamer"]:
            key = await self.call("live", "GET", "/api/v1/live/streams/me/key", headers=streamer["headers"])
            streamer["key"] = key["stream_key"]
            self.streams.append(key["stream_id"])

    async def upload(self, user: dict, size: int) -> dict | None:
        form = aiohttp.FormData()
        form.add_field("file", os.urandom(size), filename=f"take-{uuid.uuid4().hex[:8]}.wav", content_type="audio/wav")
        return await self.call("upload", "POST", "/api/v1/cloud/files", (201,), data=form, headers=user["headers"])

    async def pause(self, low: float, high: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), random.uniform(low, high))

    async def browse(self) -> None:
        while not self.stop.is_set():
            pick = random.random()
            if pick < 0.35:
                query = f"?sort={random.choice(SORTS)}&limit=20&offset={random.choice([0, 0, 20])}"
                await self.call("browse", "GET", "/api/v1/marketplace/products" + query)
            elif pick < 0.6:
                await self.call("browse", "GET", f"/api/v1/marketplace/products/{random.choice(self.products)}")
            elif pick < 0.75:
                await self.call("browse", "GET", f"/api/v1/marketplace/products/{random.choice(self.products)}/reviews")
            elif pick < 0.9:
                await self.call("browse", "GET", "/api/v1/live/streams?is_live=true")
            else:
                await self.call("browse", "GET", f"/api/v1/live/streams/{random.choice(self.streams)}")
            await self.pause(0.05, 0.2)

    async def search(self) -> None:
        while not self.stop.is_set():
            word = random.choice(WORDS)
            if random.random() < 0.6:
                await self.call("search", "GET", f"/api/v1/marketplace/products?search={word}&limit=20")
            else:
                user = random.choice(self.users["buyer"])
                path = f"/api/v1/tags/suggest?q={word[: random.randint(1, 4)]}"
                await self.call("search", "GET", path, headers=user["headers"])
            await self.pause(0.1, 0.3)

    async def buy(self, n: int) -> None:
        buyers = self.users["buyer"][n :: LOOPS["buy"]]
        while not self.stop.is_set():
            buyer = random.choice(buyers)
            items = [{"product_id": p, "quantity": 1} for p in random.sample(self.products, random.choice([1, 2]))]
            headers = {**buyer["headers"], "Idempotency-Key": uuid.uuid4().hex}
            body = {"items": items, "payment_method": "card"}
            created = await self.call("buy", "POST", "/api/v1/marketplace/orders", (201,), json=body, headers=headers)
            if created is not None:
                outcome = "succeeded" if random.random() < 0.9 else "failed"
                path = f"/api/v1/payments/sandbox/{created['payment']['payment_id']}/confirm"
                if (
                    await self.call("buy", "POST", path, json={"outcome": outcome}, headers=buyer["headers"])
                    is not None
                ):
                    if outcome == "succeeded":
                        self.orders.append(created["order"]["id"])
                await self.call(
                    "buy", "GET", f"/api/v1/marketplace/orders/{created['order']['id']}", headers=buyer["headers"]
                )
            await self.pause(0.5, 1.5)

    async def files(self, n: int) -> None:
        users = self.users["buyer"][n :: LOOPS["files"]]
        kept: list[tuple[dict, str]] = []
        while not self.stop.is_set():
            user = random.choice(users)
            uploaded = await self.upload(user, random.randint(16, 256) * 1024)
            if uploaded is not None:
                kept.append((user, uploaded["id"]))
                owner, file_id = random.choice(kept)
                # Local storage serves the bytes here (byte ranges too); S3 would answer a 302 to a presigned URL.
                await self.call("download", "GET", f"/api/v1/cloud/files/{file_id}/download", headers=owner["headers"])
            if len(kept) > 20:
                owner, file_id = kept.pop(0)
                await self.call(
                    "upload", "DELETE", f"/api/v1/cloud/files/{file_id}", (200, 204), headers=owner["headers"]
                )
            await self.pause(0.3, 1.0)

    async def login(self) -> None:
        """Logins (argon2id at OWASP's cost), each user from its own address, as users come back."""
        users = [user for users in self.users.values() for user in users]
        while not self.stop.is_set():
            user = random.choice(users)
            body = {"email": user["email"], "password": PASSWORD}
            headers = {"X-Forwarded-For": user["address"]}
            await self.call("auth", "POST", "/api/v1/auth/login", json=body, headers=headers)
            await self.pause(1, 3)

    async def notifications(self, n: int) -> None:
        users = [*self.users["buyer"], *self.users["seller"]][n :: LOOPS["notifications"]]
        while not self.stop.is_set():
            user = random.choice(users)
            await self.call(
                "notifications", "GET", "/api/v1/notifications?unread=true&limit=20", headers=user["headers"]
            )
            if random.random() < 0.3:
                await self.call("notifications", "POST", "/api/v1/notifications/read-all", headers=user["headers"])
            await self.pause(0.5, 1.5)

    async def rtmp(self, event: str, name: str, client: str, expect: tuple[int, ...] = (200,)):
        """A callback as nginx-rtmp posts it: its `call` field is publish, update_publish, play..."""
        call = "update_publish" if event == "on_update" else event.removeprefix("on_")
        form = {"app": "live", "name": name, "addr": "127.0.0.1", "clientid": client, "call": call}
        return await self.call(
            "rtmp",
            "POST",
            f"/api/v1/live/rtmp/{event}?secret={self.rtmp_secret}",
            expect,
            data=form,
            allow_redirects=False,
        )

    async def broadcast(self, streamer: dict) -> None:
        """A streamer going live for 10-30 s (a heartbeat every 5 s) and offline for 5-15 s, over and over."""
        sessions = 0
        while not self.stop.is_set():
            sessions += 1
            client = f"{streamer['id'][:8]}-{sessions}"
            if await self.rtmp("on_publish", streamer["key"], client, (302,)) is not None:
                until = time.monotonic() + random.uniform(10, 30)
                while time.monotonic() < until and not self.stop.is_set():
                    await self.pause(5, 5)
                    await self.rtmp("on_update", streamer["key"], client)
                await self.rtmp("on_publish_done", streamer["key"], client)
            await self.pause(5, 15)

    async def viewers(self) -> None:
        """Viewers of the streams live now (nginx asks on_play first; a stream that just ended is a 403)."""
        clients = 0
        while not self.stop.is_set():
            live = await self.call("browse", "GET", "/api/v1/live/streams?is_live=true")
            streams = [stream["id"] for stream in live["streams"]] if isinstance(live, dict) else []
            if streams:
                clients += 1
                stream = random.choice(streams)
                if await self.rtmp("on_play", stream, f"viewer-{clients}", (200, 403)) is not None:
                    await self.pause(1, 3)
                    await self.rtmp("on_play_done", stream, f"viewer-{clients}")
            await self.pause(0.3, 1.0)

    def loops(self) -> list:
        tasks = [self.browse() for _ in range(LOOPS["browse"])]
        tasks += [self.search() for _ in range(LOOPS["search"])]
        tasks += [self.buy(n) for n in range(LOOPS["buy"])]
        tasks += [self.files(n) for n in range(LOOPS["files"])]
        tasks += [self.notifications(n) for n in range(LOOPS["notifications"])]
        tasks += [self.viewers() for _ in range(LOOPS["viewers"])]
        tasks += [self.login() for _ in range(LOOPS["auth"])]
        tasks += [self.broadcast(streamer) for streamer in self.users["streamer"]]
        return tasks


# --- sockets and published events ------------------------------------------------------------------


class Sockets:
    """The WebSockets, each following `notifications` and `live`, counting the events they receive."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base = http, base
        self.per_user: Counter[str] = Counter()
        self.delivered: Counter[str] = Counter()  # by channel: "live", "notifications"
        self.readers: list[asyncio.Task] = []
        self.closed = 0
        self.connect_times: list[float] = []

    async def open(self, user: dict) -> None:
        url = self.base.replace("http", "ws", 1) + f"/api/v1/ws?token={user['token']}"
        start = time.perf_counter()
        ws = await self.http.ws_connect(url, headers={"X-Forwarded-For": user["address"]}, heartbeat=None)
        for channel in ("notifications", "live"):
            await ws.send_json({"type": "subscribe", "channel": channel})
            reply = await ws.receive_json(timeout=30)
            if reply != {"type": "subscribed", "channel": channel}:
                raise SystemExit(f"subscribing to {channel}: {reply}")
        self.connect_times.append(time.perf_counter() - start)
        self.per_user[user["id"]] += 1
        self.readers.append(asyncio.create_task(self.read(ws)))

    async def read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    message = json.loads(msg.data)
                    if message.get("type") == "event":
                        self.delivered[message["channel"]] += 1
        finally:
            self.closed += 1

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


class Published:
    """Every real-time event published on Redis during the run (a pattern subscription of its own)."""

    def __init__(self, redis_url: str, channels: Channels) -> None:
        self.redis = aioredis.Redis.from_url(redis_url)
        self.channels = channels
        self.messages: Counter[str] = Counter()  # by Redis channel
        self.task: asyncio.Task | None = None
        self.lost = ""  # why the count stopped, if it did: then "owed" is too low

    async def start(self) -> None:
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self.pubsub.psubscribe(self.channels.prefix + "*")
        self.task = asyncio.create_task(self.listen())

    async def listen(self) -> None:
        try:
            async for message in self.pubsub.listen():
                if message["type"] == "pmessage":
                    self.messages[message["channel"].decode()] += 1
        except RedisError as exc:  # e.g. Redis dropped it past its pub/sub output buffer limit
            self.lost = f"{type(exc).__name__}: {exc}"

    def expected(self, sockets: Sockets) -> dict[str, int]:
        """Deliveries owed: each message times the sockets following its channel."""
        owed = Counter()
        for channel, count in self.messages.items():
            if channel == self.channels.public("live"):
                owed["live"] += count * sum(sockets.per_user.values())
            elif channel.endswith(":notifications"):
                user_id = channel.removeprefix(self.channels.prefix + "user:").split(":")[0]
                owed["notifications"] += count * sockets.per_user.get(user_id, 0)
        return dict(owed)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.pubsub.aclose()
        await self.redis.aclose()


# --- processes ------------------------------------------------------------------------------------


@dataclass
class Processes:
    web: subprocess.Popen
    worker: subprocess.Popen
    web_log: Path
    worker_log: Path
    port: int
    children: list[int] = field(default_factory=list)  # the web processes' pids

    def find_children(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listening = []
            for child in psutil.Process(self.web.pid).children():
                with contextlib.suppress(psutil.NoSuchProcess):
                    if any(
                        c.status == psutil.CONN_LISTEN and c.laddr.port == self.port for c in child.net_connections()
                    ):
                        listening.append(child.pid)
            if len(listening) == 2:
                self.children = sorted(listening)
                return
            time.sleep(0.2)
        raise SystemExit("the two web processes did not listen")

    def rss(self) -> dict[str, int]:
        named = {f"web {n + 1}": pid for n, pid in enumerate(self.children)} | {"worker": self.worker.pid}
        return {name: psutil.Process(pid).memory_info().rss for name, pid in named.items()}

    def threads(self) -> dict[str, int]:
        named = {f"web {n + 1}": pid for n, pid in enumerate(self.children)} | {"worker": self.worker.pid}
        return {name: psutil.Process(pid).num_threads() for name, pid in named.items()}

    def sockets_held(self) -> list[int]:
        return [
            sum(
                1
                for c in psutil.Process(pid).net_connections(kind="tcp")
                if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == self.port
            )
            for pid in self.children
        ]

    def stop(self) -> None:
        for process in (self.web, self.worker):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (self.web, self.worker):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_processes(env: dict[str, str], port: int, folder: Path) -> Processes:
    veza = [sys.executable, "-m", "veza"]
    web_log, worker_log = folder / "web.log", folder / "worker.log"
    with web_log.open("wb") as web_out, worker_log.open("wb") as worker_out:
        web = subprocess.Popen(
            [*veza, "serve", "--processes", "2", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=web_out,
            stderr=subprocess.STDOUT,
        )
        worker = subprocess.Popen([*veza, "worker"], env=env, stdout=worker_out, stderr=subprocess.STDOUT)
    processes = Processes(web, worker, web_log, worker_log, port)
    processes.find_children()
    return processes


def read_logs(processes: Processes) -> dict:
    """From the JSON logs: requests answered, 5xx among them, and error lines (samples)."""
    served, server_errors, errors, samples = 0, 0, 0, []
    for path in (processes.web_log, processes.worker_log):
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                record = {"level": "error" if "Traceback" in line or "Error" in line else "text", "msg": line}
            if not isinstance(record, dict):
                continue
            if record.get("logger") == "veza.access":
                served += 1
                if int(record.get("status", 0)) >= 500:
                    server_errors += 1
                    samples.append(f"{record.get('method')} {record.get('path')} -> {record.get('status')}")
            elif str(record.get("level", "")).lower() in ("error", "critical"):
                errors += 1
                samples.append(str(record.get("msg", line))[:300])
    return {"served": served, "server_errors": server_errors, "error_lines": errors, "samples": samples[:10]}


def order_outcomes(database_url: str, confirmed: list[str]) -> dict:
    conn = psycopg2.connect(database_url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT status, count(*) FROM orders WHERE id = ANY(%s::uuid[]) GROUP BY status", (confirmed,))
        statuses = dict(cur.fetchall())
        cur.execute("SELECT count(*) FROM notifications")
        notifications = cur.fetchone()[0]
    conn.close()
    return {
        "confirmed": len(confirmed),
        "completed": statuses.get("completed", 0),
        "statuses": statuses,
        "notifications": notifications,
    }


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Result:
    minutes: float
    sockets: int
    stats: Stats
    logs: dict
    rss: dict[str, dict[str, int]]  # by moment ("start", "warm", "end"), then by process
    delivered: dict[str, int]
    expected: dict[str, int]
    orders: dict
    held: list[int]
    closed_sockets: int
    elapsed: float
    published_lost: str = ""  # why the count of published events stopped, if it did


async def drive(args, base: str, rtmp_secret: str, processes: Processes, channels: Channels, redis_url: str) -> dict:
    stats = Stats()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        load = Load(http, base, rtmp_secret, stats)
        await load.setup()
        sockets = Sockets(http, base)
        owners = [user for users in load.users.values() for user in users]
        gate = asyncio.Semaphore(50)

        async def open_one(n: int) -> None:
            async with gate:
                await sockets.open(owners[n % len(owners)])

        await asyncio.gather(*(open_one(n) for n in range(args.sockets)))
        held = processes.sockets_held()
        published = Published(redis_url, channels)
        await published.start()
        stats.latencies.clear()
        stats.statuses.clear()
        rss = {"start": processes.rss()}

        started = time.monotonic()
        duration = args.minutes * 60
        warmup = args.warmup if args.warmup is not None else duration / 10
        tasks = [asyncio.create_task(loop) for loop in load.loops()]
        await asyncio.sleep(warmup)
        rss["warm"] = processes.rss()
        while time.monotonic() - started < duration:
            await asyncio.sleep(min(30, duration - (time.monotonic() - started)))
            done = [t for t in tasks if t.done()]
            for task in done:
                if task.exception() is not None:
                    raise task.exception()
            requests = sum(sum(c.values()) for c in stats.statuses.values())
            threads = processes.threads()
            memory = ", ".join(f"{k} {v / 2**20:.0f} MiB ({threads[k]} threads)" for k, v in processes.rss().items())
            print(f"  {time.monotonic() - started:5.0f} s: {requests} requests, RSS {memory}", flush=True)
        load.stop.set()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
        rss["end"] = processes.rss()

        # The last payments' webhooks go through the worker; their notifications reach the sockets after.
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline:
            expected = published.expected(sockets)
            if all(sockets.delivered.get(k, 0) >= v for k, v in expected.items()):
                outcomes = order_outcomes(args.database_url, load.orders)
                if outcomes["completed"] == outcomes["confirmed"]:
                    break
            await asyncio.sleep(2)
        await asyncio.sleep(2)
        expected = published.expected(sockets)
        delivered = {k: sockets.delivered.get(k, 0) for k in ("live", "notifications")}
        await published.stop()
        closed = sockets.closed
        await sockets.close()
    return {
        "stats": stats,
        "rss": rss,
        "delivered": delivered,
        "expected": expected,
        "orders": order_outcomes(args.database_url, load.orders),
        "held": held,
        "closed": closed,
        "elapsed": elapsed,
        "lost": published.lost,
    }


def rows(result: Result) -> list[tuple[str, str, str, bool]]:
    """(figure, value, goal, met) for a benchmark table."""
    total = sum(sum(c.values()) for c in result.stats.statuses.values())
    fives = sum(n for c in result.stats.statuses.values() for status, n in c.items() if status >= 500)
    table = [
        (
            f"soak {result.minutes:g} min, 2 web + 1 worker: requests (the load's / all in the access logs)",
            f"{total:,} / {result.logs['served']:,}",
            "-",
            True,
        ),
        (
            "soak: 5xx (load / access logs)",
            f"{fives} / {result.logs['server_errors']}",
            "0",
            fives == 0 and result.logs["server_errors"] == 0,
        ),
    ]
    for family in sorted(result.stats.latencies):
        values = result.stats.latencies[family]
        table.append(
            (
                f"soak: {family} p50 / p99",
                f"{statistics.median(values) * 1000:.1f} / {percentile(values, 0.99) * 1000:.1f} ms ({len(values):,})",
                "-",
                True,
            )
        )
    for name in result.rss["end"]:
        warm, end = result.rss["warm"][name], result.rss["end"][name]
        growth = (end - warm) / warm
        table.append(
            (
                f"soak: RSS {name} (start / after warm-up / end)",
                f"{result.rss['start'][name] / 2**20:.0f} / {warm / 2**20:.0f} / {end / 2**20:.0f} MiB ({growth:+.1%})",
                "< +10% after warm-up",
                growth < RSS_GROWTH_GOAL,
            )
        )
    for channel in ("live", "notifications"):
        delivered, expected = result.delivered.get(channel, 0), result.expected.get(channel, 0)
        table.append(
            (
                f"soak: {channel} events delivered / owed",
                f"{delivered:,} / {expected:,}",
                "all",
                delivered == expected and not result.published_lost,
            )
        )
    orders = result.orders
    table.append(
        (
            "soak: paid orders completed (sandbox webhooks via the worker)",
            f"{orders['completed']} / {orders['confirmed']}",
            "all",
            orders["completed"] == orders["confirmed"],
        )
    )
    table.append(
        ("soak: error lines in the logs", str(result.logs["error_lines"]), "0", result.logs["error_lines"] == 0)
    )
    return table


def report(result: Result) -> None:
    print(
        f"Soak: {result.elapsed / 60:.1f} min of mixed traffic on two web processes (one port) and one worker; "
        f"{result.sockets} WebSockets (held by the processes: {result.held})"
    )
    print(f"  {'family':<14} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for family in sorted(result.stats.latencies):
        values = result.stats.latencies[family]
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(result.stats.statuses[family].items()))
        p50, p99 = statistics.median(values) * 1000, percentile(values, 0.99) * 1000
        print(f"  {family:<14} {len(values):9,} {p50:8.1f} {p99:8.1f}  {statuses}")
    for figure, value, goal, met in rows(result):
        print(f"  {figure}: {value} (goal {goal}: {'met' if met else 'MISSED'})")
    if result.stats.unexpected:
        print("  unexpected answers, e.g.:\n    " + "\n    ".join(result.stats.unexpected[:10]))
    if result.stats.errors:
        print(f"  client-side failures: {dict(result.stats.errors)}")
    if result.logs["samples"]:
        print("  from the logs:\n    " + "\n    ".join(result.logs["samples"]))
    if result.published_lost:
        print(f"  the count of published events stopped ({result.published_lost}): owed is too low")
    if result.closed_sockets:
        print(f"  {result.closed_sockets} sockets were closed during the run")
    print(f"  orders by status: {result.orders['statuses']}; notifications stored: {result.orders['notifications']}")


def main(argv: list[str] | None = None) -> list[tuple[str, str, str, bool]]:
    """Run, print the report; the figures as (figure, value, goal, met) rows for a benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--warmup", type=float, help="seconds of traffic before the RSS baseline (a tenth of the run)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    settings = load_settings()
    args.database_url = soak_database()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rtmp_secret = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "PUBLIC_URL": base,
        "PAYMENT_GATEWAY": "sandbox",
        "CONNECT_GATEWAY": "sandbox",
        "JWT_SECRET": secrets.token_urlsafe(32),
        "SIGNING_SECRET": secrets.token_urlsafe(32),
        "HYPERSWITCH_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "RTMP_CALLBACK_SECRET": rtmp_secret,
        "METRICS_TOKEN": secrets.token_urlsafe(32),
        "TRUST_PROXY": "true",
        "MAX_CONNECTIONS_PER_ADDRESS": "0",
        "WS_MAX_SOCKETS_PER_CLIENT": "200",
        "ACCESS_LOG": "true",
        "LOG_LEVEL": "INFO",
        "DB_POOL_MAX": "20",
        "STORAGE_BACKEND": "local",
    }
    with tempfile.TemporaryDirectory(prefix="veza-soak-") as folder:
        env["DATA_DIR"] = str(Path(folder) / "data")
        processes = start_processes(env, port, Path(folder))
        try:
            wait_healthy(f"{base}/api/v1/health")
            channels = Channels(redis_db(settings))
            outcome = asyncio.run(drive(args, base, rtmp_secret, processes, channels, settings.redis_url))
        finally:
            processes.stop()
        logs = read_logs(processes)
    result = Result(
        minutes=args.minutes,
        sockets=args.sockets,
        stats=outcome["stats"],
        logs=logs,
        rss=outcome["rss"],
        delivered=outcome["delivered"],
        expected=outcome["expected"],
        orders=outcome["orders"],
        held=outcome["held"],
        closed_sockets=outcome["closed"],
        elapsed=outcome["elapsed"],
        published_lost=outcome["lost"],
    )
    report(result)
    return rows(result)


if __name__ == "__main__":
    for figure in main():
        row(*figure)
