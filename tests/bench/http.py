"""GET /api/v1/health on one Veza web process against a bare aiohttp app answering the same JSON.

Both servers run as subprocesses pinned to one core, wrk (Debian's `wrk`) to the
other, and they are loaded in turn, round after round, in the same run: the
median of the per-round throughput ratios is the figure (absolute numbers are
noisy on a shared machine).

    .venv/bin/python -m tests.bench.http [--duration 5] [--connections 64] [--rounds 5]

Needs PostgreSQL and Redis as configured; it makes and migrates a database `<name>_bench` of its own.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

import psycopg2
from psycopg2 import sql

from veza.migrate import migrate
from veza.settings import load_settings

BARE_APP = """
import sys
from aiohttp import web

async def health(request):
    return web.json_response({"success": True, "data": {"status": "ok"}})

app = web.Application()
app.router.add_get("/api/v1/health", health)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout}s")


SERVER_CPU, LOAD_CPU = 0, 1


def run_wrk(url: str, duration: int, connections: int) -> tuple[float, float]:
    out = subprocess.run(
        ["taskset", "-c", str(LOAD_CPU), "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    p99_ms = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"errors during the load:\n{out}")
    return rps, p99_ms


def bench_database() -> str:
    base, _, name = load_settings().database_url.rpartition("/")
    name = f"{name}_bench"
    admin = psycopg2.connect(f"{base}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin.close()
    migrate(f"{base}/{name}")
    return f"{base}/{name}"


def start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        ["taskset", "-c", str(SERVER_CPU), *cmd], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("wrk and taskset are needed: apt-get install wrk util-linux")

    veza_port, bare_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": bench_database()}
    servers = [
        start([sys.executable, "-m", "veza", "serve", "--host", "127.0.0.1", "--port", str(veza_port)], env),
        start([sys.executable, "-c", BARE_APP, str(bare_port)], env),
    ]
    targets = {
        "veza": f"http://127.0.0.1:{veza_port}/api/v1/health",
        "bare aiohttp": f"http://127.0.0.1:{bare_port}/api/v1/health",
    }
    try:
        for url in targets.values():
            wait_healthy(url)
            run_wrk(url, 2, args.connections)  # warm-up
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, url in targets.items():
                results[name].append(run_wrk(url, args.duration, args.connections))
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)

    print(f"GET /api/v1/health, wrk -c{args.connections} -d{args.duration}s, median of {args.rounds} rounds")
    for name, runs in results.items():
        rps = statistics.median(r for r, _ in runs)
        p99 = statistics.median(p for _, p in runs)
        print(f"  {name:<13} {rps:>9.0f} req/s   p99 {p99:6.2f} ms")
    ratios = [v[0] / b[0] for v, b in zip(results["veza"], results["bare aiohttp"], strict=True)]
    print(
        f"  throughput ratio veza / bare: {statistics.median(ratios):.2f} (goal >= 0.70; rounds: "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + ")"
    )


if __name__ == "__main__":
    main()
