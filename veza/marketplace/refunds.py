"""Refunds: requested by the order's buyer or a seller of one of its items, settled by the gateway's webhook.

A request locks the order, creates the refund `pending` (the order's total) and sets the order
`refund_pending`, in one transaction; the gateway is then asked, outside it, with the refund's id as
idempotency key. If the gateway cannot be reached the client gets a 503 and the refund stays
`pending`: the sweep (`resend_unsent`, a cron job) asks again with the same key once it is older
than RESEND_AFTER, so a refund reaches the gateway once however often it is asked. If the gateway
refuses it outright (502), the refund is `failed` and the order `completed` again.

The gateway's `refund_succeeded` settles it in ONE transaction: refund `succeeded`, order `refunded`,
the order's licenses revoked, its products' sales counts decremented, its transfers taken back
(`completed -> reversal_pending`, their reversal queued after the commit; never-paid ones `cancelled`),
and the buyer and sellers notified. `refund_failed` makes the refund `failed` and the order
`completed` again (a new refund may be requested). Each change is guarded by the refund's state,
with the order, refund and transfer rows locked in that order, so copies of an event apply once.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from aiohttp import web

from veza.auth.tokens import AuthUser
from veza.db import Row, Transaction, transaction
from veza.errors import Conflict
from veza.idempotency import Answer, request_hash, run_once
from veza.keys import DB, PAYMENT_GATEWAY
from veza.marketplace import refund_queries as queries
from veza.marketplace.refund_models import RefundIn
from veza.notifications.service import notify
from veza.payments import payouts
from veza.payments.gateway import GatewayRefused, GatewayUnavailable
from veza.payments.transfer_queries import lock_order_transfers, transition

log = logging.getLogger(__name__)

REFUND_SCOPE = "orders.refund"
RESEND_AFTER = 60.0  # seconds: far longer than a gateway call may take, so the sweep never races the request
SWEEP_BATCH = 100
INITIATED = {"message": "Refund initiated"}
NEVER_PAID = frozenset({"pending", "failed", "permanently_failed"})


async def request_refund(
    app: web.Application, user: AuthUser, order_id: UUID, body: RefundIn, idempotency_key: str | None
) -> Answer:
    """200 "Refund initiated"; replayed for the same Idempotency-Key and request."""
    digest = request_hash({"order_id": str(order_id), **body.model_dump(mode="json")})
    return await run_once(
        app, user.id, REFUND_SCOPE, idempotency_key, digest, lambda: _request(app, user, order_id, body)
    )


def refusal(order: Row) -> Conflict | None:
    """Why the order cannot be refunded now, or None."""
    if order["status"] in ("refund_pending", "refunded"):
        return Conflict("This order is already refunded or a refund was requested", code="already_refunded")
    if order["status"] != "completed":
        return Conflict(f"Only a paid order can be refunded; this one is {order['status']}", code="order_not_paid")
    if not order["refundable_yet"]:
        return Conflict(
            f"Refunds may be requested within {queries.REFUND_WINDOW_DAYS} days of payment; "
            f"this order was paid on {order['paid_at']:%Y-%m-%d}",
            code="refund_window_closed",
        )
    return None


async def _request(app: web.Application, user: AuthUser, order_id: UUID, body: RefundIn) -> Answer:
    async with transaction(app[DB]) as tx:
        order = await queries.order_to_refund(tx, order_id, user.id)
        if problem := refusal(order):
            raise problem
        refund_id = await queries.insert_refund(tx, order, user.id, body.reason, body.details)
        await queries.set_order_status(tx, order_id, "refund_pending", "completed")
    refund = {
        "id": refund_id,
        "order_id": order_id,
        "amount_cents": order["total_cents"],
        "reason": body.reason,
        "payment_id": order["payment_id"],
    }
    try:
        await send(app, refund)
    except GatewayUnavailable:
        raise GatewayUnavailable(
            "The payment service is unavailable: the refund is recorded and will be sent to it again shortly"
        ) from None
    return Answer(200, INITIATED)


async def send(app: web.Application, refund: dict[str, Any]) -> None:
    """Ask the gateway for the refund (its id is the idempotency key) and keep the gateway's id.

    GatewayUnavailable leaves it pending for the sweep; GatewayRefused fails it, the order completed again."""
    try:
        answer = await app[PAYMENT_GATEWAY].create_refund(
            payment_id=refund["payment_id"],
            amount=refund["amount_cents"],
            idempotency_key=str(refund["id"]),
            reason=refund["reason"],
            metadata={"order_id": str(refund["order_id"]), "refund_id": str(refund["id"])},
        )
    except GatewayRefused as exc:
        log.warning("refund %s of order %s refused by the gateway: %s", refund["id"], refund["order_id"], exc)
        await give_up(app, refund["id"], refund["order_id"])
        raise
    except GatewayUnavailable:
        log.warning("refund %s of order %s: the gateway is unavailable; left pending", refund["id"], refund["order_id"])
        raise
    await queries.set_gateway_refund_id(app[DB], refund["id"], answer.refund_id)


async def give_up(app: web.Application, refund_id: UUID, order_id: UUID) -> None:
    async with transaction(app[DB]) as tx:
        order = await queries.lock_order(tx, order_id)
        if await queries.fail_unsent(tx, refund_id):
            await queries.set_order_status(tx, order_id, "completed", "refund_pending")
            await notify_everyone(tx, app, order, refund_id, succeeded=False)


async def resend_unsent(app: web.Application) -> int:
    """Ask the gateway again for the pending refunds it never acknowledged; how many it now has."""
    sent = 0
    for refund in await queries.unsent_refunds(app[DB], RESEND_AFTER, SWEEP_BATCH):
        try:
            await send(app, refund)
        except GatewayUnavailable:
            break  # still down: the next round tries again
        except GatewayRefused:
            continue  # failed for good, the order completed again
        sent += 1
    return sent


def metadata_refund_id(metadata: dict[str, Any] | None) -> UUID | None:
    try:
        return UUID(str((metadata or {})["refund_id"]))
    except (KeyError, ValueError):
        return None


async def refund_settled(
    tx: Transaction,
    app: web.Application,
    *,
    succeeded: bool,
    gateway_refund_id: str,
    payment_id: str,
    amount: int,
    currency: str,
    metadata: dict[str, Any] | None,
) -> str:
    """Apply a refund_succeeded / refund_failed event; the outcome, as recorded on the event."""
    found = await queries.refund_for_gateway(tx, gateway_refund_id, metadata_refund_id(metadata))
    if found is None:
        return "ignored: no refund has this id"
    order = await queries.lock_order(tx, found["order_id"])
    refund = await queries.lock_refund(tx, found["id"])
    expected = (order["payment_id"], refund["amount_cents"], refund["currency"])
    if (payment_id, amount, currency) != expected:
        log.error(
            "refund %s of order %s: the gateway reports %s %s %s, expected %s %s %s; nothing changed",
            refund["id"], order["id"], payment_id, amount, currency, *expected,
        )  # fmt: skip
        return f"rejected: refunded {amount} {currency} of {payment_id}, the refund is {expected[1]} {expected[2]}"
    if succeeded:
        return await _succeeded(tx, app, order, refund, gateway_refund_id)
    return await _failed(tx, app, order, refund, gateway_refund_id)


async def _succeeded(tx: Transaction, app: web.Application, order: Row, refund: Row, gateway_refund_id: str) -> str:
    # A refund reported failed and then succeeded gave the money back after all: settle it, unless
    # the order moved on meanwhile (another refund requested).
    order_from = {"pending": "refund_pending", "failed": "completed"}.get(refund["status"])
    if order_from is None:
        return f"ignored: the refund has already {refund['status']}"
    if order["status"] != order_from:
        log.error("refund %s succeeded late, but its order %s is %s now", refund["id"], order["id"], order["status"])
        return f"ignored: the refund was {refund['status']} and the order is {order['status']}"
    await queries.settle_refund(tx, refund["id"], "succeeded", [refund["status"]], gateway_refund_id)
    await queries.set_order_status(tx, order["id"], "refunded", order_from)
    await queries.revoke_licenses(tx, order["id"])
    await queries.remove_sales(tx, order["id"])
    await take_back_transfers(tx, app, order["id"])
    await notify_everyone(tx, app, order, refund["id"], succeeded=True)
    return f"applied: refund succeeded, order refunded (was {refund['status']})"


async def take_back_transfers(tx: Transaction, app: web.Application, order_id: UUID) -> None:
    """Paid transfers are to be reversed (a job does it after the commit); the others are never paid."""
    for transfer in await lock_order_transfers(tx, order_id):
        if transfer["status"] == "completed":
            if await transition(tx, transfer["id"], "reversal_pending", only_from=frozenset({"completed"})):
                tx.after_commit(payouts.queue_reversal, app, transfer["id"])
        elif transfer["status"] in NEVER_PAID:
            await transition(tx, transfer["id"], "cancelled", only_from=NEVER_PAID)


async def _failed(tx: Transaction, app: web.Application, order: Row, refund: Row, gateway_refund_id: str) -> str:
    if refund["status"] != "pending":
        return f"ignored: the refund has already {refund['status']}"
    await queries.settle_refund(tx, refund["id"], "failed", ["pending"], gateway_refund_id)
    await queries.set_order_status(tx, order["id"], "completed", "refund_pending")
    await notify_everyone(tx, app, order, refund["id"], succeeded=False)
    return "applied: refund failed, order completed again"


async def notify_everyone(
    tx: Transaction, app: web.Application, order: Row, refund_id: UUID, *, succeeded: bool
) -> None:
    """The buyer and every seller of the order learn the refund's outcome."""
    amount = f"{order['total_cents'] / 100:.2f} {order['currency']}"
    data = {"order_id": str(order["id"]), "refund_id": str(refund_id)}
    if succeeded:
        buyer = ("refund.succeeded", "Your refund went through", f"{amount} are on their way back to you.")
        seller = ("sale.refunded", "A sale was refunded", "An order of yours was refunded; your share is taken back.")
    else:
        buyer = ("refund.failed", "Your refund did not go through", "The order stands; you may request a refund again.")
        seller = ("refund.failed", "A refund did not go through", "The refund of an order of yours failed.")
    await notify(app, order["buyer_id"], *buyer, data, tx=tx)
    for seller_id in await queries.order_sellers(tx, order["id"]):
        await notify(app, seller_id, *seller, data, tx=tx)
