"""WebSocket fan-out: one event to N subscribed sockets on one Veza web process, against a bare aiohttp app.

N sockets connect anonymously to each server's /api/v1/ws, send {"type": "subscribe", "channel": ...}
and wait for "subscribed". Then the benchmark PUBLISHes events on Redis exactly as
veza.realtime.publish does (event_message on public_channel(channel)), each carrying its send time
(time.time()) in its data, and every socket records when it arrives. The bare server is the floor: it
subscribes to its channel on Redis and, on each message, loops `await ws.send_str(payload)` over its
sockets, so both figures are Redis PUBLISH to arrival.

Both servers run at once, subprocesses pinned to core 0; the sockets live in a few client processes
pinned to core 1 and connect to one server, then the other, a bounded number at a time. Events then
go to each server in turn, round after round, so that both see the same noise of a shared machine;
the ratio is the median of the per-round p99 ratios (as tests/bench/http.py does for throughput).

Each server follows a stream channel of the run's own, live:<id of a stream made for the run> (Veza
refuses channels of streams that do not exist), rather than "live": the hub code is the same, but
Redis is shared, and whatever else publishes on "live" meanwhile (the test suite sends 1 MiB events
there) would be fanned out to all N sockets in the middle of a measurement. All sockets come from
one address, so the run lifts Veza's cap of sockets per client address (WS_MAX_SOCKETS_PER_CLIENT).
The client sockets are by default a minimal asyncio Protocol, not aiohttp's client, which costs the
load core about 25 µs a message: with it, the bare server's figures measure the clients
(--client aiohttp to compare; --client aiohttp-deflate offers permessage-deflate as browsers do).

Reported per server: the fewest sockets that got an event, delivery latency p50/p99/max over all
sockets (the median over the events, and each event's p99), and memory per socket: (server RSS once
its sockets are subscribed - RSS before the first of them connected) / N, after one warm-up socket
has come and gone.

    .venv/bin/python -m tests.bench.ws_fanout [--sockets 10000] [--events 5] [--interval 1] [--clients 4]

Needs PostgreSQL and Redis as configured; it makes and migrates a database `<name>_bench` of its own.
Stops by itself within a few minutes at most; the servers and clients die with it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import ctypes
import functools
import json
import math
import multiprocessing
import os
import random
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field

import aiohttp
import psutil
import psycopg2
import redis
import yarl

from tests.bench.http import LOAD_CPU, SERVER_CPU, bench_database, wait_healthy
from tests.bench.report import row
from veza.realtime.publish import Channels, event_message
from veza.redis import redis_db
from veza.settings import load_settings

WS_PATH = "/api/v1/ws"
CONNECT_TIMEOUT = 120  # seconds for all sockets of one server to be subscribed
DELIVERY_TIMEOUT = 15  # seconds after the last event for the stragglers

BARE_APP = """
import asyncio, json, sys
from aiohttp import WSMsgType, web
from redis.asyncio import Redis

sockets = []

async def health(request):
    return web.json_response({"status": "ok"})

async def websocket(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                message = json.loads(msg.data)
                if message.get("type") == "subscribe":
                    sockets.append(ws)
                    await ws.send_str(json.dumps({"type": "subscribed", "channel": message["channel"]}))
    finally:
        if ws in sockets:
            sockets.remove(ws)
    return ws

async def relay(app):
    pubsub = Redis.from_url(sys.argv[2], decode_responses=True).pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(sys.argv[3])

    async def forward():
        async for message in pubsub.listen():
            if message["type"] == "message":
                payload = message["data"]
                for ws in list(sockets):
                    await ws.send_str(payload)

    task = asyncio.create_task(forward())
    yield
    task.cancel()
    await pubsub.aclose()

app = web.Application()
app.router.add_get("/api/v1/health", health)
app.router.add_get("/api/v1/ws", websocket)
app.cleanup_ctx.append(relay)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


@functools.cache
def channels() -> Channels:
    return Channels(redis_db(load_settings()))


def public_channel(channel: str) -> str:
    """The Redis channel veza.realtime.publish uses for a public channel (it carries the configured db number)."""
    return channels().public(channel)


def die_with_parent() -> None:
    """In a child: SIGKILL when the benchmark process goes, however it goes (Linux prctl PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def subscribe_message(channel: str) -> str:
    return json.dumps({"type": "subscribe", "channel": channel})


def raise_nofile(needed: int = 0) -> None:
    """Lift the soft limit on open files to the hard one (the ulimit -n of the children)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and needed > hard:
        raise SystemExit(f"{needed} sockets need more file descriptors than the hard limit ({hard})")
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- client processes -----------------------------------------------------------------------------


class RawSocket(asyncio.Protocol):
    """A minimal RFC 6455 client on a bare asyncio Protocol: the handshake, unfragmented frames, pong, close.

    The cheapest way to time arrivals on the load core: a frame costs one data_received call, where an
    aiohttp client socket costs its reader, a queue and a task wake-up (about 25 µs a message, enough
    to make the load core, not the server, the bottleneck of a 10,000-socket fan-out).
    """

    def __init__(self, client: Client, request: bytes) -> None:
        self.client = client
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgraded = False
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()  # the handshake's answer
        self.reply: asyncio.Future[bytes] = loop.create_future()  # the first text frame
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        self.closed = True
        for waiter in (self.opened, self.reply):
            if not waiter.done():
                waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    def send(self, opcode: int, payload: bytes) -> None:
        """A masked frame with a zero masking key: the payload goes as it is (payload < 64 KiB)."""
        size = len(payload)
        length = bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + size.to_bytes(2, "big")
        self.transport.write(bytes([0x80 | opcode]) + length + b"\0\0\0\0" + payload)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buf = self.buffer + data if self.buffer else data
        if not self.upgraded:
            head, sep, buf = buf.partition(b"\r\n\r\n")
            if not sep:
                self.buffer = head
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace")))
                self.transport.close()
                return
            self.upgraded = True
            self.opened.set_result(None)
        while len(buf) >= 2:
            length = buf[1] & 0x7F
            offset = 2 if length < 126 else 4 if length == 126 else 10
            if len(buf) < offset:
                break
            if offset > 2:
                length = int.from_bytes(buf[2:offset], "big")
            end = offset + length
            if len(buf) < end:
                break
            opcode, payload, buf = buf[0] & 0x0F, buf[offset:end], buf[end:]
            if opcode == 0x1 and self.reply.done():
                self.client.arrived(now, payload)
            elif opcode == 0x1:
                self.reply.set_result(payload)
            elif opcode == 0x9:
                self.send(0xA, payload)
            elif opcode == 0x8:
                self.send(0x8, payload[:2])
                self.transport.close()
        self.buffer = buf


class Client:
    """One process's share of the sockets of every server; driven by commands over a pipe."""

    def __init__(self, conn, marker: str, kind: str) -> None:
        self.conn = conn
        self.marker, self.marker_bytes = marker, marker.encode()
        self.kind = kind
        self.sockets: dict[str, list[RawSocket | aiohttp.ClientWebSocketResponse]] = {}  # by server
        self.readers: list[asyncio.Task] = []
        self.arrivals: list[tuple[float, str | bytes]] = []  # (time.time() on arrival, raw message); parsed later
        self.session: aiohttp.ClientSession | None = None
        self.expected = -1  # arrivals awaited by collect
        self.all_arrived = asyncio.Event()
        self.foreign = 0  # messages not from this run (nothing else should publish on the run's channels)
        self.foreign_sample = ""

    async def run(self) -> None:
        if self.kind != "raw":
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=60)
            )
        self.conn.send("ready")
        try:
            while True:
                command, *args = await asyncio.to_thread(self.conn.recv)
                if command == "connect":
                    self.conn.send(await self.connect(*args))
                elif command == "collect":
                    self.conn.send(await self.collect(*args))
                else:
                    break
        finally:
            for reader in self.readers:
                reader.cancel()
            if self.session is not None:
                await self.session.close()
            for socks in self.sockets.values():
                for sock in socks:
                    if isinstance(sock, RawSocket) and sock.transport is not None:
                        sock.transport.close()

    def arrived(self, now: float, payload: str | bytes) -> None:
        if (self.marker_bytes if isinstance(payload, bytes) else self.marker) in payload:
            self.arrivals.append((now, payload))
            if len(self.arrivals) == self.expected:
                self.all_arrived.set()
        else:
            self.foreign += 1
            self.foreign_sample = self.foreign_sample or str(payload[:160])

    async def connect(self, server: str, url: str, channel: str, count: int, concurrency: int) -> dict:
        socks = self.sockets.setdefault(server, [])
        opener = self.open_raw if self.kind == "raw" else self.open_aiohttp
        subscribe = subscribe_message(channel)
        gate = asyncio.Semaphore(concurrency)
        results = await asyncio.gather(
            *(opener(url, subscribe, gate, socks) for _ in range(count)), return_exceptions=True
        )
        errors = [repr(r) for r in results if isinstance(r, BaseException)]
        return {"connected": len(socks), "errors": errors[:5]}

    @staticmethod
    def check_subscribed(reply: str | bytes) -> None:
        if json.loads(reply).get("type") != "subscribed":
            raise RuntimeError(f"expected 'subscribed', got {reply[:200]!r}")

    async def open_raw(self, url: str, subscribe: str, gate: asyncio.Semaphore, socks: list) -> None:
        target = yarl.URL(url)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {target.raw_path_qs} HTTP/1.1\r\nHost: {target.raw_authority}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        loop = asyncio.get_running_loop()
        async with gate:
            _, sock = await asyncio.wait_for(
                loop.create_connection(lambda: RawSocket(self, request), target.host, target.port), 30
            )
            try:
                await asyncio.wait_for(sock.opened, 30)
                sock.send(0x1, subscribe.encode())
                self.check_subscribed(await asyncio.wait_for(sock.reply, 30))
            except BaseException:
                sock.transport.close()
                raise
        socks.append(sock)

    async def open_aiohttp(self, url: str, subscribe: str, gate: asyncio.Semaphore, socks: list) -> None:
        async with gate:
            ws = await self.session.ws_connect(
                url,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5),
                compress=15 if self.kind == "aiohttp-deflate" else 0,
            )
            await ws.send_str(subscribe)
            msg = await asyncio.wait_for(ws.receive(), 30)
            try:
                self.check_subscribed(msg.data if msg.type == aiohttp.WSMsgType.TEXT else "{}")
            except RuntimeError:
                await ws.close()
                raise
        socks.append(ws)
        self.readers.append(asyncio.create_task(self.read_aiohttp(ws)))

    async def read_aiohttp(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            self.arrived(time.time(), msg.data if msg.type == aiohttp.WSMsgType.TEXT else f"{msg.type.name}")

    async def collect(self, events: int, deadline: float) -> dict:
        """Latencies (seconds) by (server, event), once every socket has all its events or at the deadline."""
        self.expected = events * sum(len(socks) for socks in self.sockets.values())
        if len(self.arrivals) < self.expected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.all_arrived.wait(), max(0, deadline - time.time()))
        latencies: dict[tuple[str, int], list[float]] = {}
        for arrived, raw in self.arrivals:
            data = json.loads(raw)["data"]
            latencies.setdefault((data["to"], data["seq"]), []).append(arrived - data["sent_at"])
        closed = {server: sum(1 for sock in socks if sock.closed) for server, socks in self.sockets.items()}
        return {"latencies": latencies, "closed": closed, "foreign": self.foreign, "sample": self.foreign_sample}


def client_main(conn, marker: str, kind: str) -> None:
    die_with_parent()
    os.sched_setaffinity(0, {LOAD_CPU})
    raise_nofile()
    asyncio.run(Client(conn, marker, kind).run())


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    command: list[str]
    port: int
    channel: str  # the client's channel name; on Redis public_channel(channel)
    process: subprocess.Popen | None = None
    log: object = None  # stderr, a temporary file
    connect_seconds: float = 0.0
    bytes_per_socket: float = 0.0
    received: list[int] = field(default_factory=list)  # by event
    p50: list[float] = field(default_factory=list)  # by event, seconds
    p99: list[float] = field(default_factory=list)
    max: list[float] = field(default_factory=list)
    closed: int = 0
    sockets: int = 0  # sockets to open on it; 0: --sockets

    def socket_count(self, args) -> int:
        return self.sockets or args.sockets

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{WS_PATH}"

    def start(self, env: dict[str, str], sockets: int) -> None:
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            ["taskset", "-c", str(SERVER_CPU), *self.command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            preexec_fn=lambda: (die_with_parent(), raise_nofile(sockets + 100)),
        )

    def processes_running(self) -> list[subprocess.Popen]:
        return [self.process]

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def stderr_tail(self) -> str:
        self.log.seek(0)
        return self.log.read()[-3000:].decode(errors="replace")

    def rss(self) -> int:
        return psutil.Process(self.process.pid).memory_info().rss


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest rank."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def receive(conn, timeout: float, what: str):
    if not conn.poll(max(0.0, timeout)):
        raise SystemExit(f"a client process did not {what} within {timeout:.0f}s")
    return conn.recv()


async def warm_up(url: str, channel: str) -> None:
    """One socket through the whole path first: imports, caches, the first Redis SUBSCRIBE."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str(subscribe_message(channel))
        msg = await asyncio.wait_for(ws.receive(), 10)
        if msg.type != aiohttp.WSMsgType.TEXT or json.loads(msg.data).get("type") != "subscribed":
            raise SystemExit(f"warm-up socket on {url}: expected 'subscribed', got {msg.data!r}")


def bench_stream(database_url: str) -> uuid.UUID:
    """A stream of the run's own, in the bench database: the channel the Veza sockets follow."""
    conn = psycopg2.connect(database_url)
    with conn, conn.cursor() as cur:
        name = f"bench{secrets.token_hex(6)}"
        cur.execute(
            "INSERT INTO users (username, email, password_hash) VALUES (%s, %s, 'x') RETURNING id",
            (name, f"{name}@example.com"),
        )
        cur.execute("INSERT INTO live_streams (user_id, title) VALUES (%s, 'bench') RETURNING id", (cur.fetchone()[0],))
        stream_id = cur.fetchone()[0]
    conn.close()
    return uuid.UUID(stream_id)


def unused_port() -> int:
    """A free port below the ephemeral range, so that nobody's bind(0) or connect() takes it meanwhile."""
    for _ in range(100):
        port = random.randint(20_000, 32_000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port found in 20000-32000")


def wait_listening(server: Server, timeout: float = 30) -> None:
    """Until each of the server's processes listens on its port: what answers there must be ours, not a stranger's."""
    deadline = time.monotonic() + timeout
    for popen in server.processes_running():
        process = psutil.Process(popen.pid)
        while not any(
            c.status == psutil.CONN_LISTEN and c.laddr.port == server.port for c in process.net_connections()
        ):
            if popen.poll() is not None:
                raise SystemExit(f"{server.name} exited with {popen.returncode}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{server.name} did not listen on {server.port} within {timeout}s")
            time.sleep(0.2)


def run_servers(servers: list[Server], args, env: dict[str, str], redis_url: str) -> None:
    """Start the servers, measure them, stop them; on a failure, the tail of each one's log."""
    publisher = redis.Redis.from_url(redis_url)
    try:
        for server in servers:
            server.start(env, args.sockets)
        measure(servers, args, publisher)
    except BaseException:
        for server in servers:
            if server.log is not None:
                print(f"--- {server.name} stderr (tail) ---\n{server.stderr_tail()}", file=sys.stderr)
        raise
    finally:
        publisher.close()
        for server in servers:
            server.stop()


def measure(servers: list[Server], args, publisher: redis.Redis) -> None:
    for server in servers:
        wait_listening(server)
        wait_healthy(f"http://127.0.0.1:{server.port}/api/v1/health")
        asyncio.run(warm_up(server.url, server.channel))
    marker = secrets.token_hex(8)
    context = multiprocessing.get_context("spawn")
    clients: list[tuple[multiprocessing.Process, object]] = []
    try:
        for _ in range(args.clients):
            parent, child = context.Pipe()
            proc = context.Process(target=client_main, args=(child, marker, args.client), daemon=True)
            proc.start()
            clients.append((proc, parent))
        for _, conn in clients:
            receive(conn, 30, "start")

        per_client = max(1, args.concurrency // args.clients)
        for server in servers:  # one after the other, each server's RSS around its own sockets
            count = server.socket_count(args)
            shares = [count // args.clients + (i < count % args.clients) for i in range(args.clients)]
            time.sleep(1)
            rss_before = server.rss()
            started = time.monotonic()
            for (_, conn), share in zip(clients, shares, strict=True):
                conn.send(("connect", server.name, server.url, server.channel, share, per_client))
            connected = 0
            for _, conn in clients:
                reply = receive(conn, CONNECT_TIMEOUT - (time.monotonic() - started), "connect its sockets")
                connected += reply["connected"]
                if reply["errors"]:
                    print(f"  {server.name}: connection errors, e.g. {reply['errors']}", file=sys.stderr)
            server.connect_seconds = time.monotonic() - started
            if connected != count:
                raise SystemExit(f"{server.name}: only {connected} of {count} sockets subscribed")
            time.sleep(1)
            server.bytes_per_socket = (server.rss() - rss_before) / count

        for seq in range(args.events):  # rounds: an event to each server in turn, args.interval apart
            for server in servers:
                data = {"sent_at": time.time(), "seq": seq, "to": server.name, "run": marker}
                publisher.publish(public_channel(server.channel), event_message(server.channel, "bench.fanout", data))
                time.sleep(args.interval)

        deadline = time.time() + DELIVERY_TIMEOUT
        for _, conn in clients:
            conn.send(("collect", args.events, deadline))
        latencies: dict[tuple[str, int], list[float]] = {}
        foreign, sample = 0, ""
        for _, conn in clients:
            reply = receive(conn, DELIVERY_TIMEOUT + 30, "report its arrivals")
            for key, values in reply["latencies"].items():
                latencies.setdefault(key, []).extend(values)
            for server in servers:
                server.closed += reply["closed"].get(server.name, 0)
            foreign, sample = foreign + reply["foreign"], sample or reply["sample"]
    finally:
        for _, conn in clients:
            with contextlib.suppress(OSError):
                conn.send(("stop",))
        for proc, _ in clients:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)

    for server in servers:
        for seq in range(args.events):
            values = sorted(latencies.get((server.name, seq), []))
            server.received.append(len(values))
            if values:
                server.p50.append(percentile(values, 0.50))
                server.p99.append(percentile(values, 0.99))
                server.max.append(values[-1])
        if min(server.received) < server.socket_count(args) or server.closed:
            tail = server.stderr_tail()
            print(f"--- {server.name}: some sockets missed events; its stderr:\n{tail}", file=sys.stderr)
    if foreign:
        print(f"  (the sockets also got {foreign} messages not from this run, e.g. {sample})", file=sys.stderr)


FANOUT_GOAL = 1.1  # p99 of Veza over the bare floor's, one process


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def print_servers(servers: list[Server], args) -> None:
    """A line per server (the fewest sockets an event reached, latency, memory), then its p99 by event."""
    print(f"  {'':<13} {'received':>13} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'KiB/socket':>11} {'connect s':>10}")
    for s in servers:
        received = f"{min(s.received)}/{s.socket_count(args)}"
        print(
            f"  {s.name:<13} {received:>13} {ms(s.p50):8.1f} {ms(s.p99):8.1f} {ms(s.max):8.1f}"
            f" {s.bytes_per_socket / 1024:11.1f} {s.connect_seconds:10.1f}"
        )
        print(f"  {'':<13}   p99 by event: " + ", ".join(f"{p * 1000:.0f}" for p in s.p99) + " ms")
        if s.closed:
            print(f"  {s.name}: {s.closed} sockets were closed by the end")


def report(servers: list[Server], args) -> None:
    print(
        f"WebSocket fan-out: {args.sockets} sockets a server on {WS_PATH}, {args.events} events to each"
        f" (in turn, {args.interval:g}s apart); latency = Redis PUBLISH to arrival, median over the events"
    )
    print_servers(servers, args)
    by_name = {s.name: s for s in servers}
    veza, bare = by_name.get("veza"), by_name.get("bare aiohttp")
    if veza and bare and len(veza.p99) == len(bare.p99) == args.events:
        ratios = [v / b for v, b in zip(veza.p99, bare.p99, strict=True)]
        print(
            f"  p99 ratio veza / bare: {statistics.median(ratios):.2f} (goal <= {FANOUT_GOAL}; median of the rounds: "
            + ", ".join(f"{r:.2f}" for r in ratios)
            + ")"
        )
        row(
            f"fan-out to {args.sockets:,} sockets, one process: p99 Veza / bare aiohttp floor",
            f"{statistics.median(ratios):.2f} ({ms(veza.p99):.0f} / {ms(bare.p99):.0f} ms)",
            f"≤ {FANOUT_GOAL}",
            statistics.median(ratios) <= FANOUT_GOAL,
        )
    if veza:
        goal = "met" if veza.bytes_per_socket < 25 * 1024 else "MISSED"
        print(f"  veza memory per socket: {veza.bytes_per_socket / 1024:.1f} KiB (goal < 25 KiB: {goal})")
        row(
            "memory per WebSocket",
            f"{veza.bytes_per_socket / 1024:.1f} KiB",
            "< 25 KiB",
            veza.bytes_per_socket < 25 * 1024,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=10_000, help="sockets on each server")
    parser.add_argument("--events", type=int, default=5, help="events to each server")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between two events")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--concurrency", type=int, default=200, help="sockets connecting at a time, in all")
    parser.add_argument(
        "--client",
        choices=["raw", "aiohttp", "aiohttp-deflate"],
        default="raw",
        help="client sockets: a minimal asyncio Protocol (default, cheapest), aiohttp's ClientSession,"
        " or that offering permessage-deflate as browsers do",
    )
    parser.add_argument("--only", choices=["veza", "bare"], help="run one server only")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the finally blocks clean up
    raise_nofile(2 * args.sockets // args.clients + 100)  # a client process: its share of both servers
    os.sched_setaffinity(0, {LOAD_CPU})

    settings = load_settings()
    database_url = bench_database()
    # Every client socket comes from 127.0.0.1: no per-address caps here.
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MAX_CONNECTIONS_PER_ADDRESS": "0",
        "WS_MAX_SOCKETS_PER_CLIENT": str(args.sockets + 100),
    }
    veza_port, bare_port = unused_port(), unused_port()
    bare_channel = f"live:{uuid.uuid4()}"
    servers = [
        Server(
            "veza",
            [sys.executable, "-m", "veza", "serve", "--host", "127.0.0.1", "--port", str(veza_port)],
            veza_port,
            f"live:{bench_stream(database_url)}",
        ),
        Server(
            "bare aiohttp",
            [sys.executable, "-c", BARE_APP, str(bare_port), settings.redis_url, public_channel(bare_channel)],
            bare_port,
            bare_channel,
        ),
    ]
    if args.only:
        servers = [s for s in servers if s.name.startswith(args.only)]
    run_servers(servers, args, env, settings.redis_url)
    report(servers, args)


if __name__ == "__main__":
    main()
