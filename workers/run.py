"""`veza worker`: arq's Worker, started again whenever Redis goes away.

arq's Worker.main() ends at the first Redis error of its polling loop, and
arq.worker.run_worker then exits. Here the resources (database, Redis clients,
storage) are opened once; a Redis outage costs one warning line per attempt to
reconnect (backing off from 1 s to 30 s), and the worker resumes its queue once
Redis answers. Any other error ends the worker as before: a bug must not loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from arq.connections import ArqRedis
from arq.worker import Worker

from veza import eventloop
from veza.memory import freeze_startup_objects
from veza.redis import connect_arq, redis_unreachable
from veza.resources import running_resources
from veza.settings import Settings
from workers.lease import LeasedWorker
from workers.settings import WorkerSettings

log = logging.getLogger(__name__)

FIRST_DELAY = 1.0
MAX_DELAY = 30.0


def _redis_down(exc: BaseException) -> bool:
    return redis_unreachable(exc) or isinstance(exc, OSError)


def build_worker(ctx: dict[str, Any], pool: ArqRedis, burst: bool) -> Worker:
    options = {k: v for k, v in vars(WorkerSettings).items() if not k.startswith("_")}
    lease = ctx["settings"].worker_job_lease
    return LeasedWorker(**options, redis_pool=pool, ctx=ctx, burst=burst, handle_signals=False, job_lease=lease)


async def _discard(worker: Worker | None, pool: ArqRedis) -> None:
    """Drop a worker that failed: cancel its jobs (arq runs them again later) and close its
    connections, without arq's shutdown, which needs Redis."""
    if worker is not None:
        for task in worker.tasks.values():
            task.cancel()
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    await pool.aclose()


async def supervise(settings: Settings, *, burst: bool = False) -> None:
    """Run the worker until cancelled (or, with `burst`, until its queue is empty)."""
    delay = FIRST_DELAY
    async with running_resources(settings) as app:
        while True:
            pool = connect_arq(settings)
            worker: Worker | None = None
            try:
                await pool.ping()
                delay = FIRST_DELAY
                worker = build_worker({"settings": settings, "app": app}, pool, burst)
                await worker.main()
            except Exception as exc:
                await _discard(worker, pool)
                if not _redis_down(exc):
                    raise
                log.warning("worker: Redis unavailable (%s: %s); trying again in %gs", type(exc).__name__, exc, delay)
            except BaseException:  # cancelled: stop as arq does, cancelling the running jobs
                if worker is not None:
                    with contextlib.suppress(Exception, asyncio.CancelledError):
                        await worker.close()
                await pool.aclose()
                raise
            else:
                await worker.close()
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)


def run(settings: Settings, burst: bool = False) -> None:
    """The `veza worker` command: SIGINT and SIGTERM stop it."""

    async def main() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await supervise(settings, burst=burst)
        log.info("worker stopped")

    freeze_startup_objects()
    eventloop.run(main(), use_uvloop=settings.uvloop)
