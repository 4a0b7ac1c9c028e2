"""The worker's job throughput, and its memory after 10,000 jobs.

One `veza worker` (asyncio's loop, then uvloop) pinned to core 0; this process enqueues `--jobs`
send_transfer jobs in one go (transfer ids no row names: each job is arq's round trip through
Redis and the payout code's first query, with nothing to pay) and samples the worker's RSS as the
queue drains. The figures: jobs per second, and RSS growth from the end of the first tenth (the
warm-up) to the end (goal: flat, under 5 MiB). Rendering an invoice's PDF is measured on its own
(tests.bench.invoice).

    .venv/bin/python -m tests.bench.worker [--jobs 10000]

Needs PostgreSQL and Redis as configured; it uses the bench database (tests.bench.http.bench_database).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid

from arq.constants import default_queue_name

from tests.bench.http import SERVER_CPU, bench_database
from tests.bench.report import row
from veza.constants import SEND_TRANSFER_JOB, WORKER_HEARTBEAT_KEY
from veza.redis import connect_arq
from veza.settings import load_settings

RSS_GOAL_MIB = 5.0


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def run(jobs: int, worker: subprocess.Popen) -> tuple[float, float, float, float]:
    """(jobs per second, RSS after warm-up, RSS at the end, RSS growth) of the worker."""
    arq = connect_arq(load_settings())
    try:
        while not await arq.get(WORKER_HEARTBEAT_KEY):  # written once its resources are open
            if worker.poll() is not None:
                raise SystemExit("the worker exited")
            await asyncio.sleep(0.2)
        for start in range(0, jobs, 1000):
            await asyncio.gather(
                *(arq.enqueue_job(SEND_TRANSFER_JOB, str(uuid.uuid4())) for _ in range(min(1000, jobs - start)))
            )
        started = time.perf_counter()
        warm_rss = None
        while (left := await arq.zcard(default_queue_name)) > 0:
            if warm_rss is None and left <= jobs * 0.9:
                warm_rss = rss_mib(worker.pid)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the last jobs finish
        seconds = time.perf_counter() - started - 0.5
        end_rss = rss_mib(worker.pid)
        warm_rss = warm_rss if warm_rss is not None else end_rss
        return jobs / seconds, warm_rss, end_rss, end_rss - warm_rss
    finally:
        await arq.aclose()


async def clear_queue() -> None:
    arq = connect_arq(load_settings())
    await arq.delete(default_queue_name, WORKER_HEARTBEAT_KEY)
    await arq.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    args = parser.parse_args()
    base = {**os.environ, "DATABASE_URL": bench_database(), "LOG_LEVEL": "WARNING"}
    for loop in ("false", "true"):
        asyncio.run(clear_queue())
        worker = subprocess.Popen(
            ["taskset", "-c", str(SERVER_CPU), sys.executable, "-m", "veza", "worker"],
            env={**base, "UVLOOP": loop},
            stdout=subprocess.DEVNULL,
        )
        try:
            rate, warm, end, growth = asyncio.run(run(args.jobs, worker))
        finally:
            worker.terminate()
            worker.wait(30)
        name = "uvloop" if loop == "true" else "default loop"
        print(
            f"worker ({name}): {args.jobs} send_transfer jobs, {rate:,.0f} jobs/s; RSS {warm:.1f} MiB after "
            f"warm-up, {end:.1f} MiB at the end (+{growth:.1f} MiB; goal < {RSS_GOAL_MIB} MiB)"
        )
        row(f"worker jobs per second, {args.jobs:,} payout jobs ({name})", f"{rate:,.0f}/s")
        row(
            f"worker RSS growth over {args.jobs:,} jobs after warm-up ({name})",
            f"+{growth:.1f} MiB ({warm:.0f} -> {end:.0f} MiB)",
            f"< {RSS_GOAL_MIB:g} MiB",
            growth < RSS_GOAL_MIB,
        )


if __name__ == "__main__":
    main()
