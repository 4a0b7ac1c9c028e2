"""The worker's throughput on real jobs, invoices and payouts, and its memory over 10,000 of them.

One `veza worker` (uvloop, as shipped; `--loops default,uvloop` runs asyncio's loop too) pinned to core 0,
on a database of its own, local storage, and CONNECT_GATEWAY=stripe against the project's Stripe fake
(tests/payments/fake_stripe.py, which speaks Stripe's HTTP API) served by this process on core 1. Twenty
sellers, each with three products and a Stripe account that finished onboarding, sell to fifty buyers.

Each phase makes its paid orders with set-based SQL just before it (orders, their three lines and
licenses as a completion writes them; an unrendered invoice for the invoice phase, a pending seller
transfer for the payout phase, so that the worker's sweeps find nothing of the other kind to queue),
queues one job per order under the project's job ids, all due at one instant, and times from that
instant until the queue is empty; then it checks that every invoice is stored and every transfer
completed, each paid once on the fake.

1. warm-up: --warmup render_invoice jobs, then as many send_transfer jobs (not timed);
2. invoices: --invoices render_invoice jobs (the PDF rendered off the loop and stored);
3. payouts: --transfers send_transfer jobs (a Stripe transfer over HTTP, the transfer's guarded update and
   the seller's notification, published).

The figures: jobs per second of each kind, and the worker's RSS growth from the end of the warm-up to
the end (--invoices + --transfers jobs; goal: flat, under 5 MiB).

    .venv/bin/python -m tests.bench.worker [--invoices 1000] [--transfers 9000] [--warmup 200] [--loops uvloop]

Needs PostgreSQL and Redis as configured; it makes and migrates a database `<name>_worker_bench` of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

import psycopg2
from aiohttp import web
from arq.connections import ArqRedis
from arq.constants import default_queue_name
from psycopg2.extras import execute_values

from tests.bench.http import LOAD_CPU, SERVER_CPU, free_port, stop
from tests.bench.report import row
from tests.databases import migrated_database
from tests.payments.fake_stripe import FakeStripe
from veza.constants import RENDER_INVOICE_JOB, SEND_TRANSFER_JOB, WORKER_HEARTBEAT_KEY
from veza.marketplace.invoices import render_job_id
from veza.payments.payouts import transfer_job_id
from veza.payments.stripe_connect import StripeConnect
from veza.redis import connect_arq
from veza.settings import load_settings

RSS_GOAL_MIB = 5.0
STRIPE_KEY = "sk_test_bench"
SELLERS, BUYERS = 20, 50
ENQUEUE_PER_SECOND = 4000  # a cautious guess of this process's enqueue rate: when all jobs come due

PEOPLE = """
INSERT INTO users (username, email, password_hash, role)
SELECT 'wb_' || kind || g, 'wb-' || kind || g || '@example.com', 'bench-not-a-real-hash',
       CASE kind WHEN 'seller' THEN 'seller' ELSE 'user' END
FROM (VALUES ('seller', %(sellers)s), ('buyer', %(buyers)s)) AS k (kind, how_many), generate_series(1, how_many) g;
WITH f AS (
    INSERT INTO cloud_files (user_id, name, current_version, size_bytes, content_type, sha256)
    SELECT u.id, 'beat-' || g || '.wav', 1, 1000, 'audio/wav', sha256((u.id::text || g)::bytea)
    FROM users u, generate_series(1, 3) g WHERE u.role = 'seller'
    RETURNING id, user_id, name
)
INSERT INTO products (seller_id, asset_file_id, title, kind, price_cents)
SELECT f.user_id, f.id, 'Bench beat ' || f.name, 'beat', 1999 + length(f.name) * 100 FROM f;
"""

# Completed orders of one seller's three products each, as a completion leaves them (licenses included).
ORDERS = """
CREATE TEMP TABLE bench_orders ON COMMIT DROP AS
SELECT gen_random_uuid() AS id, g AS n,
       (SELECT array_agg(id ORDER BY id) FROM users WHERE role = 'user')[1 + g %% %(buyers)s] AS buyer_id,
       (SELECT array_agg(id ORDER BY id) FROM users WHERE role = 'seller')[1 + g %% %(sellers)s] AS seller_id,
       0::bigint AS total
FROM generate_series(1, %(count)s) g;
UPDATE bench_orders b SET total = (SELECT sum(price_cents) FROM products p WHERE p.seller_id = b.seller_id);
INSERT INTO orders (id, buyer_id, status, total_cents, currency, payment_method, gateway, paid_at)
SELECT id, buyer_id, 'completed', total, 'EUR', 'card', 'sandbox', now() FROM bench_orders;
INSERT INTO order_items (order_id, product_id, seller_id, title, unit_price_cents, quantity, currency)
SELECT b.id, p.id, p.seller_id, p.title, p.price_cents, 1, p.currency
FROM bench_orders b JOIN products p ON p.seller_id = b.seller_id;
INSERT INTO licenses (buyer_id, product_id, order_id, order_item_id)
SELECT b.buyer_id, i.product_id, i.order_id, i.id FROM bench_orders b JOIN order_items i ON i.order_id = b.id;
"""

# Their invoices, numbered on from the year's counter as issue_invoice numbers them.
INVOICES = """
WITH counter AS (
    INSERT INTO invoice_counters AS c (year, last_number)
    VALUES (extract(year FROM now() AT TIME ZONE 'UTC')::int, %(count)s)
    ON CONFLICT (year) DO UPDATE SET last_number = c.last_number + %(count)s
    RETURNING year, last_number
)
INSERT INTO invoices (order_id, year, number)
SELECT b.id, counter.year, counter.last_number - %(count)s + b.n FROM bench_orders b, counter
RETURNING order_id
"""

# Their sellers' transfers: the total less the platform fee, rounded half up.
TRANSFERS = """
INSERT INTO seller_transfers (seller_id, order_id, amount_cents, platform_fee_cents, currency)
SELECT seller_id, id, total - round(total * %(rate)s)::bigint, round(total * %(rate)s)::bigint, 'EUR'
FROM bench_orders
RETURNING id
"""


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (user and system), all its threads."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_database() -> str:
    configured = load_settings().database_url
    return migrated_database(configured, configured.rpartition("/")[2] + "_worker_bench", fresh=True)


def make_people(dsn: str) -> None:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(PEOPLE, {"sellers": SELLERS, "buyers": BUYERS})
    conn.close()


def paid_orders(dsn: str, count: int, kind: str) -> list[str]:
    """`count` new paid orders with what the `kind` ("invoices" or "transfers") job needs; those rows' ids."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(ORDERS, {"count": count, "buyers": BUYERS, "sellers": SELLERS})
        if kind == "invoices":
            cur.execute(INVOICES, {"count": count})
        else:
            cur.execute(TRANSFERS, {"rate": load_settings().platform_fee_rate})
        ids = [str(row[0]) for row in cur.fetchall()]
    conn.close()
    return ids


def done_count(dsn: str, kind: str, ids: list[str]) -> int:
    """How many of the rows the phase's jobs were to finish are finished: invoices stored, transfers completed."""
    query = {
        "invoices": "SELECT count(*) FROM invoices WHERE order_id = ANY(%s::uuid[]) AND storage_key IS NOT NULL",
        "transfers": "SELECT count(*) FROM seller_transfers WHERE id = ANY(%s::uuid[]) AND status = 'completed'"
        " AND gateway_transfer_id IS NOT NULL",
    }[kind]
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(query, (ids,))
        done = cur.fetchone()[0]
    conn.close()
    return done


async def connect_sellers(dsn: str, fake: FakeStripe, api_base: str) -> None:
    """Each seller gets a Stripe Express account (through the project's gateway) that finished onboarding."""
    stripe = StripeConnect(STRIPE_KEY, api_base=api_base)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, email FROM users WHERE role = 'seller' ORDER BY id")
        accounts = []
        for seller_id, email in cur.fetchall():
            account = await stripe.create_account(email=email, idempotency_key=f"account-{seller_id}")
            fake.complete_onboarding(account.account_id)
            accounts.append((seller_id, account.account_id))
        execute_values(
            cur,
            "INSERT INTO connect_accounts (user_id, gateway, account_id, connected, connected_at) VALUES %s",
            accounts,
            template="(%s, 'stripe', %s, true, now())",
        )
    conn.close()
    await stripe.close()


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    command = ["taskset", "-c", str(SERVER_CPU), sys.executable, "-m", "veza", "worker"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


async def wait_for_worker(arq: ArqRedis, worker: subprocess.Popen) -> None:
    while not await arq.get(WORKER_HEARTBEAT_KEY):  # written once its resources are open
        if worker.poll() is not None:
            raise SystemExit("the worker exited")
        await asyncio.sleep(0.2)


async def run_jobs(arq: ArqRedis, worker: subprocess.Popen, job: str, jobs: list[tuple[str, str]]) -> float:
    """Queue `jobs` ((argument, job id) each), all due at one instant; seconds from then until the queue is empty."""
    due = datetime.now(UTC) + timedelta(seconds=0.5 + len(jobs) / ENQUEUE_PER_SECOND)
    for start in range(0, len(jobs), 500):
        queued = await asyncio.gather(
            *(arq.enqueue_job(job, arg, _job_id=job_id, _defer_until=due) for arg, job_id in jobs[start : start + 500])
        )
        if None in queued:
            raise SystemExit(f"{job}: a job id was already queued")
    if datetime.now(UTC) > due:
        print(f"  (queuing {len(jobs)} {job} jobs took past their due time: the rate is underestimated)")
    while await arq.zcard(default_queue_name) > 0 or datetime.now(UTC) < due:
        if worker.poll() is not None:
            raise SystemExit("the worker exited")
        await asyncio.sleep(0.02)
    return time.time() - due.timestamp()


async def phase(dsn: str, arq: ArqRedis, worker: subprocess.Popen, kind: str, count: int) -> tuple[float, float]:
    """Jobs per second of `count` jobs of `kind` on new paid orders, checked done, and the worker's CPU
    milliseconds per job."""
    ids = await asyncio.to_thread(paid_orders, dsn, count, kind)
    cpu = cpu_seconds(worker.pid)
    if kind == "invoices":
        seconds = await run_jobs(arq, worker, RENDER_INVOICE_JOB, [(i, render_job_id(i)) for i in ids])
    else:
        seconds = await run_jobs(arq, worker, SEND_TRANSFER_JOB, [(i, transfer_job_id(i, 0)) for i in ids])
    if (done := await asyncio.to_thread(done_count, dsn, kind, ids)) != count:
        raise SystemExit(f"{kind}: {done} of {count} done once the queue was empty")
    return count / seconds, (cpu_seconds(worker.pid) - cpu) * 1000 / count


async def bench_loop(args: argparse.Namespace, dsn: str, env: dict[str, str], fake: FakeStripe, loop: str) -> None:
    arq = connect_arq(load_settings())
    await arq.delete(default_queue_name, WORKER_HEARTBEAT_KEY)
    worker = await asyncio.to_thread(start_worker, {**env, "UVLOOP": "true" if loop == "uvloop" else "false"})
    try:
        await wait_for_worker(arq, worker)
        paid_before = len(fake.transfers)
        for kind in ("invoices", "transfers"):
            await phase(dsn, arq, worker, kind, args.warmup)
        warm = rss_mib(worker.pid)
        invoices, invoice_cpu = await phase(dsn, arq, worker, "invoices", args.invoices)
        after_invoices = rss_mib(worker.pid)
        transfers, transfer_cpu = await phase(dsn, arq, worker, "transfers", args.transfers)
        end = rss_mib(worker.pid)
    finally:
        stop(worker, grace=30)
        await arq.aclose()
    if (paid := len(fake.transfers) - paid_before) != args.warmup + args.transfers:
        raise SystemExit(f"Stripe made {paid} transfers for {args.warmup + args.transfers} sent")
    jobs, name = args.invoices + args.transfers, "uvloop" if loop == "uvloop" else "default loop"
    print(
        f"worker ({name}): {invoices:,.1f} invoices/s ({args.invoices} render_invoice, {invoice_cpu:.1f} ms of CPU "
        f"each), {transfers:,.1f} payouts/s ({args.transfers} send_transfer, Stripe fake, {transfer_cpu:.1f} ms of CPU "
        f"each); RSS {warm:.1f} MiB after warm-up, {after_invoices:.1f} "
        f"after the invoices, {end:.1f} at the end (+{end - warm:.1f} MiB over {jobs} jobs; goal < {RSS_GOAL_MIB} MiB)"
    )
    loop_name = f"{name}, as shipped" if loop == "uvloop" else name
    row(
        f"worker invoice renders per second (render_invoice of paid orders, three lines; {loop_name})",
        f"{invoices:,.0f}/s ({invoice_cpu:.0f} ms of worker CPU each)",
    )
    row(
        f"worker payouts per second (send_transfer of completed orders, Stripe's API on a local fake; {loop_name})",
        f"{transfers:,.0f}/s ({transfer_cpu:.1f} ms of worker CPU each)",
    )
    row(
        f"worker RSS growth over {jobs:,} jobs after warm-up ({args.invoices:,} invoices, {args.transfers:,} payouts;"
        f" {loop_name})",
        f"+{end - warm:.1f} MiB ({warm:.0f} -> {end:.0f} MiB)",
        f"< {RSS_GOAL_MIB:g} MiB",
        end - warm < RSS_GOAL_MIB,
    )


async def run(args: argparse.Namespace) -> None:
    fake = FakeStripe(STRIPE_KEY)
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    api_base = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        dsn = await asyncio.to_thread(own_database)
        await asyncio.to_thread(make_people, dsn)
        await connect_sellers(dsn, fake, api_base)
        print(f"data: database, {SELLERS} connected sellers and {BUYERS} buyers in {time.monotonic() - started:.1f} s")
        with tempfile.TemporaryDirectory(prefix="veza-worker-bench-") as data_dir:
            env = {
                **os.environ,
                "DATABASE_URL": dsn,
                "DATA_DIR": data_dir,
                "LOG_LEVEL": "WARNING",
                "CONNECT_GATEWAY": "stripe",
                "STRIPE_SECRET_KEY": STRIPE_KEY,
                "STRIPE_API_BASE": api_base,
            }
            for loop in args.loops.split(","):
                await bench_loop(args, dsn, env, fake, loop)
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--transfers", type=int, default=9000)
    parser.add_argument("--warmup", type=int, default=200, help="jobs of each kind before the RSS baseline")
    parser.add_argument("--loops", default="uvloop", help="comma-separated: default, uvloop")
    args = parser.parse_args()
    os.sched_setaffinity(0, {LOAD_CPU})  # this process serves the Stripe fake: off the worker's core
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
