"""Jobs of payments: the sandbox gateway's webhook deliveries, the checkout and refund sweeps, seller transfers."""

from __future__ import annotations

from uuid import UUID

from arq import Retry, cron, func

from veza.constants import (
    DELIVER_SANDBOX_EVENT_JOB,
    RESEND_REFUNDS_JOB,
    REVERSE_TRANSFER_JOB,
    SEND_TRANSFER_JOB,
    SWEEP_CHECKOUT_JOB,
    SWEEP_SANDBOX_EVENTS_JOB,
    SWEEP_TRANSFERS_JOB,
)
from veza.idempotency import purge_expired
from veza.keys import DB, SETTINGS
from veza.marketplace.orders import fail_unpaid_orders
from veza.marketplace.refunds import resend_unsent
from veza.payments import payouts, sandbox

DELIVERY_TRIES = 12  # ~1 h of doubling delays from 1 s (capped at 5 min); then the sweep takes over


async def deliver_sandbox_event(ctx: dict, event_id: str) -> bool:
    """POST one sandbox event to the app's webhook; retried with backoff until it answers 2xx."""
    app = ctx["app"]
    if not await sandbox.deliver_event(app, event_id):
        raise Retry(defer=sandbox.retry_delay(app[SETTINGS], ctx["job_try"]))
    return True


async def sweep_sandbox_events(ctx: dict) -> int:
    """Queue again the sandbox events still undelivered (their job may have been lost, or given up)."""
    return await sandbox.sweep_undelivered(ctx["app"])


async def sweep_checkout(ctx: dict) -> dict[str, int]:
    """Purge idempotency keys past 24 h; fail orders that never got their payment."""
    app = ctx["app"]
    return {"idempotency_keys_purged": await purge_expired(app[DB]), "orders_failed": await fail_unpaid_orders(app)}


async def resend_refunds(ctx: dict) -> int:
    """Ask the gateway again for the pending refunds it never acknowledged (same idempotency key)."""
    return await resend_unsent(ctx["app"])


async def send_transfer(ctx: dict, transfer_id: str) -> str | None:
    """Pay a seller their share of an order (veza.payments.payouts); the transfer's state after this try."""
    row = await payouts.send_transfer(ctx["app"], UUID(transfer_id))
    return None if row is None else row["status"]


async def reverse_transfer(ctx: dict, transfer_id: str) -> str | None:
    """Take a refunded order's transfer back; the transfer's state after this try."""
    row = await payouts.reverse_transfer(ctx["app"], UUID(transfer_id))
    return None if row is None else row["status"]


async def sweep_transfers(ctx: dict) -> dict[str, int]:
    """Queue the transfers and reversals whose try is due: retries, and the jobs that were lost."""
    return await payouts.queue_due(ctx["app"])


# The result is kept only a minute: once the tries are spent, the sweep may queue the event again.
deliver_sandbox_event_job = func(
    deliver_sandbox_event, name=DELIVER_SANDBOX_EVENT_JOB, max_tries=DELIVERY_TRIES, timeout=60, keep_result=60
)
sweep_sandbox_events_cron = cron(
    sweep_sandbox_events, name=SWEEP_SANDBOX_EVENTS_JOB, second={15}, unique=True, timeout=60, max_tries=2
)
sweep_checkout_cron = cron(sweep_checkout, name=SWEEP_CHECKOUT_JOB, second={45}, unique=True, timeout=60, max_tries=2)
resend_refunds_cron = cron(resend_refunds, name=RESEND_REFUNDS_JOB, second={5}, unique=True, timeout=120, max_tries=2)

# No result is kept: a try that changes nothing (a transfer that an unavailable gateway left with the
# same retry_count, or one of a seller who has not connected yet) may be queued again under the same
# attempt's id. A worker killed mid-job leaves the job queued: arq runs it again (max_tries).
send_transfer_job = func(send_transfer, name=SEND_TRANSFER_JOB, timeout=60, max_tries=3, keep_result=0)
reverse_transfer_job = func(reverse_transfer, name=REVERSE_TRANSFER_JOB, timeout=60, max_tries=3, keep_result=0)
sweep_transfers_cron = cron(
    sweep_transfers, name=SWEEP_TRANSFERS_JOB, second={30}, unique=True, timeout=60, max_tries=2
)
