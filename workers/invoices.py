"""Jobs of invoices: render and store a paid order's PDF; sweep up those a crash left unrendered."""

from __future__ import annotations

from uuid import UUID

from arq import Retry, cron, func

from veza.constants import RENDER_INVOICE_JOB, SWEEP_INVOICES_JOB
from veza.marketplace.invoices import enqueue_unrendered, ensure_invoice
from veza.outages import down_dependency


async def render_invoice(ctx: dict, order_id: str) -> str:
    """Render and store the order's invoice PDF unless it is stored; returns its storage key."""
    try:
        invoice = await ensure_invoice(ctx["app"], UUID(order_id))
    except Exception as exc:
        if down_dependency(exc):  # PostgreSQL, Redis or S3 down: try again later
            raise Retry(defer=10 * ctx["job_try"]) from exc
        raise
    return invoice["storage_key"]


render_invoice_job = func(render_invoice, name=RENDER_INVOICE_JOB, timeout=60, max_tries=5)


async def sweep_invoices(ctx: dict) -> int:
    """Enqueue the render of every paid order's invoice still without its PDF (lost to a crash
    between the order's COMMIT and its enqueue, or a job that gave up)."""
    return await enqueue_unrendered(ctx["app"])


# Every five minutes; unique, so that one worker of many sweeps.
sweep_invoices_cron = cron(
    sweep_invoices,
    name=SWEEP_INVOICES_JOB,
    minute=set(range(0, 60, 5)),
    second=17,
    unique=True,
    timeout=120,
    max_tries=1,
)
