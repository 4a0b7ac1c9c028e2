"""GET /api/v1/health on one Veza web process against a bare aiohttp app answering the same JSON.

Both servers run as subprocesses pinned to one core, wrk (Debian's `wrk`) to the
other, and they are loaded in turn, round after round, in the same run: the
median of the per-round throughput ratios is the figure (absolute numbers are
noisy on a shared machine). Each runs twice, on uvloop (Veza's default) and on asyncio's default loop
(UVLOOP=false). The headline is Veza as it ships against the bare app on the default loop (what a
user compares against); Veza against the bare app on uvloop is the fair floor.

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

from tests.bench.report import row
from tests.databases import migrated_database
from veza.settings import load_settings

BARE_APP = """
import sys
from aiohttp import web

async def health(request):
    return web.json_response({"success": True, "data": {"status": "ok"}})

app = web.Application()
app.router.add_get("/api/v1/health", health)
loop = __import__("uvloop").new_event_loop() if sys.argv[2:] == ["uvloop"] else None
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None, loop=loop)
"""
GOAL = 0.85  # Veza as it ships (uvloop) / bare aiohttp on the default loop, throughput


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, timeout: float = 120) -> None:
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
    """`<name>_bench`, kept between runs (benchmarks that need data make it once)."""
    configured = load_settings().database_url
    return migrated_database(configured, configured.rpartition("/")[2] + "_bench", fresh=False)


def start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        ["taskset", "-c", str(SERVER_CPU), *cmd], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(*processes: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM to each, then SIGKILL to whichever has not exited within `grace` seconds: a server or
    worker left running would take the next benchmark's requests or jobs."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def load_in_turn(
    targets: dict[str, str], duration: int, connections: int, rounds: int
) -> dict[str, list[tuple[float, float]]]:
    """(req/s, p99 ms) of each target, per round; the targets take turns within each round."""
    for url in targets.values():
        wait_healthy(url)
        run_wrk(url, 2, connections)  # warm-up
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, url in targets.items():
            results[name].append(run_wrk(url, duration, connections))
    return results


def median_ratio(results: dict[str, list[tuple[float, float]]], name: str, baseline: str) -> tuple[float, list[float]]:
    ratios = [v[0] / b[0] for v, b in zip(results[name], results[baseline], strict=True)]
    return statistics.median(ratios), ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("wrk and taskset are needed: apt-get install wrk util-linux")

    database = bench_database()
    ports = {name: free_port() for name in ("veza uvloop", "bare aiohttp", "veza default loop", "bare uvloop")}
    veza = [sys.executable, "-m", "veza", "serve", "--host", "127.0.0.1", "--port"]
    bare = [sys.executable, "-c", BARE_APP]
    servers = [
        start([*veza, str(ports["veza uvloop"])], {**os.environ, "DATABASE_URL": database, "UVLOOP": "true"}),
        start([*bare, str(ports["bare aiohttp"])], dict(os.environ)),
        start([*veza, str(ports["veza default loop"])], {**os.environ, "DATABASE_URL": database, "UVLOOP": "false"}),
        start([*bare, str(ports["bare uvloop"]), "uvloop"], dict(os.environ)),
    ]
    targets = {name: f"http://127.0.0.1:{port}/api/v1/health" for name, port in ports.items()}
    try:
        results = load_in_turn(targets, args.duration, args.connections, args.rounds)
    finally:
        stop(*servers)

    print(f"GET /api/v1/health, wrk -c{args.connections} -d{args.duration}s, median of {args.rounds} rounds")
    for name, runs in results.items():
        rps = statistics.median(r for r, _ in runs)
        p99 = statistics.median(p for _, p in runs)
        print(f"  {name:<18} {rps:>9.0f} req/s   p99 {p99:6.2f} ms")
    headline, ratios = median_ratio(results, "veza uvloop", "bare aiohttp")
    floor, floor_ratios = median_ratio(results, "veza uvloop", "bare uvloop")
    default_loop, default_ratios = median_ratio(results, "veza default loop", "bare aiohttp")
    for text, ratio, rounds in (
        ("Veza (uvloop) / bare, default loop", headline, ratios),
        ("Veza / bare, both on uvloop", floor, floor_ratios),
        ("Veza / bare, both on the default loop", default_loop, default_ratios),
    ):
        print(f"  {text}: {ratio:.2f} (rounds: " + ", ".join(f"{r:.2f}" for r in rounds) + ")")
    rps = {name: statistics.median(r for r, _ in runs) for name, runs in results.items()}
    row(
        "`GET /health` req/s: Veza as it ships (uvloop) / bare aiohttp on the default loop (median of rounds)",
        f"{headline:.2f} ({rps['veza uvloop']:,.0f} / {rps['bare aiohttp']:,.0f} req/s)",
        f"≥ {GOAL}",
        headline >= GOAL,
    )
    row(
        "`GET /health` req/s: Veza / bare aiohttp, both on uvloop",
        f"{floor:.2f} ({rps['veza uvloop']:,.0f} / {rps['bare uvloop']:,.0f} req/s)",
    )
    row(
        "`GET /health` req/s: Veza / bare aiohttp, both on the default loop (UVLOOP=false)",
        f"{default_loop:.2f} ({rps['veza default loop']:,.0f} / {rps['bare aiohttp']:,.0f} req/s)",
    )


if __name__ == "__main__":
    main()
