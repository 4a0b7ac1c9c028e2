"""WorkerSettings for arq. Resources are built by the same code as the web app's."""

from __future__ import annotations

from contextlib import AsyncExitStack

from arq import cron, func

from veza.app import running_resources
from veza.constants import END_STALE_BROADCASTS_JOB
from veza.settings import load_settings
from workers.live import end_stale_broadcasts
from workers.system import worker_heartbeat


async def startup(ctx: dict) -> None:
    ctx["exit_stack"] = stack = AsyncExitStack()
    ctx["app"] = await stack.enter_async_context(running_resources(ctx.get("settings") or load_settings()))
    await worker_heartbeat(ctx)


async def shutdown(ctx: dict) -> None:
    if "exit_stack" in ctx:
        await ctx["exit_stack"].aclose()


STALE_SWEEP = {"timeout": 30, "max_tries": 3}


class WorkerSettings:
    functions = [worker_heartbeat, func(end_stale_broadcasts, name=END_STALE_BROADCASTS_JOB, **STALE_SWEEP)]
    cron_jobs = [
        cron(worker_heartbeat, second=0, unique=True),
        cron(end_stale_broadcasts, second={0, 30}, unique=True, **STALE_SWEEP),
    ]
    on_startup = startup
    on_shutdown = shutdown
    max_tries = 5
    job_timeout = 300
    keep_result = 3600
