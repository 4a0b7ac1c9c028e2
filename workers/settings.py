"""WorkerSettings for arq. Resources are built by the same code as the web app's."""

from __future__ import annotations

from contextlib import AsyncExitStack

from arq import cron

from veza.resources import running_resources
from veza.settings import load_settings
from workers.gear import warranty_check_cron
from workers.invoices import render_invoice_job, sweep_invoices_cron
from workers.live import end_stale_broadcasts_cron
from workers.payments import (
    deliver_sandbox_event_job,
    resend_refunds_cron,
    reverse_transfer_job,
    send_transfer_job,
    sweep_checkout_cron,
    sweep_sandbox_events_cron,
    sweep_transfers_cron,
)
from workers.storage import reconcile_storage_cron
from workers.system import worker_heartbeat
from workers.users import (
    build_export_job,
    erase_account_job,
    expire_exports_cron,
    sweep_erasures_cron,
    sweep_exports_cron,
)


async def startup(ctx: dict) -> None:
    if "app" not in ctx:  # `veza worker` opens them once for every restart (workers/run.py)
        ctx["exit_stack"] = stack = AsyncExitStack()
        ctx["app"] = await stack.enter_async_context(running_resources(ctx.get("settings") or load_settings()))
    await worker_heartbeat(ctx)


async def shutdown(ctx: dict) -> None:
    if "exit_stack" in ctx:
        await ctx["exit_stack"].aclose()


class WorkerSettings:
    functions = [
        worker_heartbeat,
        deliver_sandbox_event_job,
        render_invoice_job,
        send_transfer_job,
        reverse_transfer_job,
        build_export_job,
        erase_account_job,
    ]
    cron_jobs = [
        cron(worker_heartbeat, second=0, unique=True),
        end_stale_broadcasts_cron,
        reconcile_storage_cron,
        sweep_sandbox_events_cron,
        sweep_checkout_cron,
        resend_refunds_cron,
        sweep_invoices_cron,
        sweep_transfers_cron,
        warranty_check_cron,
        expire_exports_cron,
        sweep_exports_cron,
        sweep_erasures_cron,
    ]
    on_startup = startup
    on_shutdown = shutdown
    max_tries = 5
    job_timeout = 300
    keep_result = 3600
