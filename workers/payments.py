"""Jobs of payments: the sandbox gateway's webhook deliveries, the checkout and refund sweeps."""

from __future__ import annotations

from arq import Retry, cron, func

from veza.constants import (
    DELIVER_SANDBOX_EVENT_JOB,
    RESEND_REFUNDS_JOB,
    SWEEP_CHECKOUT_JOB,
    SWEEP_SANDBOX_EVENTS_JOB,
)
from veza.idempotency import purge_expired
from veza.keys import DB, SETTINGS
from veza.marketplace.orders import fail_unpaid_orders
from veza.marketplace.refunds import resend_unsent
from veza.payments import sandbox

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


# The result is kept only a minute: once the tries are spent, the sweep may queue the event again.
deliver_sandbox_event_job = func(
    deliver_sandbox_event, name=DELIVER_SANDBOX_EVENT_JOB, max_tries=DELIVERY_TRIES, timeout=60, keep_result=60
)
sweep_sandbox_events_cron = cron(
    sweep_sandbox_events, name=SWEEP_SANDBOX_EVENTS_JOB, second={15}, unique=True, timeout=60, max_tries=2
)
sweep_checkout_cron = cron(sweep_checkout, name=SWEEP_CHECKOUT_JOB, second={45}, unique=True, timeout=60, max_tries=2)
resend_refunds_cron = cron(resend_refunds, name=RESEND_REFUNDS_JOB, second={30}, unique=True, timeout=120, max_tries=2)
