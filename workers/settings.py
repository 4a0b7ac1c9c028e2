"""WorkerSettings for arq. Resources are built by the same code as the web app's."""

from __future__ import annotations

from aiohttp import web
from arq import cron

from veza.app import create_base_app
from veza.settings import load_settings
from workers.system import worker_heartbeat


async def startup(ctx: dict) -> None:
    settings = ctx.get("settings") or load_settings()
    app = create_base_app(settings)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()  # runs the app's cleanup contexts: database, Redis, arq pools
    ctx["app"] = app
    ctx["runner"] = runner
    await worker_heartbeat(ctx)


async def shutdown(ctx: dict) -> None:
    runner = ctx.get("runner")
    if runner is not None:
        await runner.cleanup()


class WorkerSettings:
    functions = [worker_heartbeat]
    cron_jobs = [cron(worker_heartbeat, second=0, unique=True)]
    on_startup = startup
    on_shutdown = shutdown
    max_tries = 5
    job_timeout = 300
    keep_result = 3600
