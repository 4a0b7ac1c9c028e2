"""Checkout: orders are created pending with a gateway payment; the payment's webhook settles them.

Creating an order snapshots each product's title, price, currency and seller into `order_items`, then
asks the gateway (PAYMENT_GATEWAY) for a payment whose idempotency key is the order id and whose
metadata names the order and the buyer. The order is committed before the gateway is called (no
database connection is held across the call); if the gateway fails, the order is marked `failed` at
once and the client gets the gateway's 503 (or 502), so no order stays pending without a payment. A
process that dies between the two leaves a pending order without `payment_id`: the checkout sweep
(`fail_unpaid_orders`) fails it after UNPAID_ORDER_TIMEOUT.

State rules, applied by the payment webhooks (`veza.payments.webhooks`), each a guarded UPDATE so
that concurrent copies of one event apply once:

    pending   -> completed   payment_succeeded (amount and currency equal the order's)
    pending   -> failed      payment_failed
    failed    -> completed   a late payment_succeeded after payment_failed: the money was taken, so
                             the buyer gets what they paid for (Hyperswitch may retry a failed
                             payment under the same payment_id)
    completed -> completed   payment_failed arriving late is ignored, its outcome says so

Completing an order is ONE transaction: status and `paid_at`, a license per item for the buyer,
each product's `sales_count`, one pending `seller_transfers` row per seller (the seller's items
minus PLATFORM_FEE_RATE, the fee rounded half up on the seller's subtotal), the invoice number, and
the buyer's and sellers' notifications; the invoice PDF and the transfers are queued after the commit.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from aiohttp import web

from veza.auth.tokens import AuthUser
from veza.constants import RENDER_INVOICE_JOB
from veza.db import Transaction, transaction
from veza.errors import Invalid
from veza.idempotency import Answer, request_hash, run_once
from veza.jobs import enqueue
from veza.keys import DB, PAYMENT_GATEWAY, SETTINGS
from veza.marketplace import order_queries as queries
from veza.marketplace.invoice_queries import issue_invoice
from veza.marketplace.invoices import render_job_id
from veza.marketplace.order_models import OrderCreated, OrderIn
from veza.notifications.service import notify
from veza.payments import queries as payment_queries
from veza.payments.payouts import queue_transfer

log = logging.getLogger(__name__)

CREATE_SCOPE = "orders.create"
UNPAID_ORDER_TIMEOUT = 300.0  # seconds: far longer than a gateway call may take


def platform_fee(subtotal_cents: int, rate: float) -> int:
    """The platform's share of a seller's subtotal, rounded half up: 2999 at 0.10 -> 300."""
    return int((Decimal(subtotal_cents) * Decimal(str(rate))).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cart_problems(body: OrderIn, products: dict[UUID, dict[str, Any]], buyer_id: UUID) -> list[dict[str, str]]:
    problems = []
    for n, item in enumerate(body.items):
        product = products.get(item.product_id)
        if product is None:
            problems.append({"field": f"items.{n}.product_id", "message": "no such product on sale"})
        elif product["seller_id"] == buyer_id:
            problems.append({"field": f"items.{n}.product_id", "message": "one of your own products"})
    currencies = {product["currency"] for product in products.values()}
    if not problems and len(currencies) > 1:
        problems.append({"field": "items", "message": f"all items must be in one currency, not {sorted(currencies)}"})
    return problems


async def create_order(app: web.Application, buyer: AuthUser, body: OrderIn, idempotency_key: str | None) -> Answer:
    """201 with the pending order and its payment; replayed for the same Idempotency-Key and body."""
    digest = request_hash(body.model_dump(mode="json"))
    return await run_once(app, buyer.id, CREATE_SCOPE, idempotency_key, digest, lambda: _create(app, buyer, body))


async def _create(app: web.Application, buyer: AuthUser, body: OrderIn) -> Answer:
    db, gateway = app[DB], app[PAYMENT_GATEWAY]
    async with transaction(db) as tx:
        products = await queries.products_on_sale(tx, [item.product_id for item in body.items])
        if problems := cart_problems(body, products, buyer.id):
            raise Invalid("The cart cannot be ordered", details=problems)
        lines = [(products[item.product_id], item.quantity) for item in body.items]
        total = sum(product["price_cents"] * quantity for product, quantity in lines)
        currency = lines[0][0]["currency"]
        order_id = await queries.insert_order(tx, buyer.id, total, currency, body.payment_method, gateway.name)
        for product, quantity in lines:
            await queries.insert_item(tx, order_id, product, quantity)
    try:
        payment = await gateway.create_payment(
            amount=total,
            currency=currency,
            idempotency_key=str(order_id),
            description=f"Veza order {order_id}",
            metadata={"order_id": str(order_id), "buyer_id": str(buyer.id)},
        )
    except BaseException:
        await queries.fail_pending(db, order_id)
        raise
    await queries.attach_payment(db, order_id, payment.payment_id, payment.client_secret)
    created = OrderCreated.model_validate(
        {
            "order": await queries.order(db, order_id),
            "payment": {"payment_id": payment.payment_id, "client_secret": payment.client_secret},
        }
    )
    return Answer(201, created.model_dump(mode="json"))


async def payment_succeeded(tx: Transaction, app: web.Application, payment_id: str, amount: int, currency: str) -> str:
    """Complete the order `payment_id` pays; the outcome, as recorded on the webhook event."""
    order = await queries.order_for_payment(tx, payment_id)
    if order is None:
        return "ignored: no order has this payment"
    if amount != order["total_cents"] or currency != order["currency"]:
        log.error(
            "payment %s of order %s: paid %s %s, the order is %s %s; the order is left %s",
            payment_id, order["id"], amount, currency, order["total_cents"], order["currency"], order["status"],
        )  # fmt: skip
        return f"rejected: paid {amount} {currency}, the order is {order['total_cents']} {order['currency']}"
    if not await queries.complete(tx, order["id"]):
        return f"ignored: the order is already {order['status']}"
    await fulfil(tx, app, order)
    return f"applied: order completed (was {order['status']})"


async def fulfil(tx: Transaction, app: web.Application, order: dict[str, Any]) -> None:
    """What a paid order gives: licenses, sales counts, seller transfers, the invoice, notifications."""
    order_id, buyer_id = order["id"], order["buyer_id"]
    subtotals: dict[UUID, int] = defaultdict(int)
    for item in await queries.items(tx, order_id):  # by product id: concurrent orders lock products in one order
        await queries.grant_license(tx, buyer_id, order_id, item)
        await queries.add_sales(tx, item["product_id"], item["quantity"])
        subtotals[item["seller_id"]] += item["unit_price_cents"] * item["quantity"]
    rate = app[SETTINGS].platform_fee_rate
    for seller_id, subtotal in sorted(subtotals.items()):
        fee = platform_fee(subtotal, rate)
        transfer_id = await payment_queries.insert_seller_transfer(
            tx,
            seller_id=seller_id,
            order_id=order_id,
            amount_cents=subtotal - fee,
            platform_fee_cents=fee,
            currency=order["currency"],
        )
        if transfer_id is not None:
            tx.after_commit(queue_transfer, app, transfer_id)
        await notify(
            app,
            seller_id,
            "sale.completed",
            "You made a sale",
            f"An order paid you {(subtotal - fee) / 100:.2f} {order['currency']} after the platform fee.",
            {"order_id": str(order_id), "amount_cents": subtotal - fee, "currency": order["currency"]},
            tx=tx,
        )
    await issue_invoice(tx, order_id)
    await notify(
        app,
        buyer_id,
        "order.completed",
        "Your order is complete",
        "Your payment went through: your licenses are ready.",
        {"order_id": str(order_id)},
        tx=tx,
    )
    tx.after_commit(queue_invoice, app, order_id)


async def queue_invoice(app: web.Application, order_id: UUID) -> None:
    await enqueue(app, RENDER_INVOICE_JOB, str(order_id), job_id=render_job_id(order_id))


async def payment_failed(tx: Transaction, app: web.Application, payment_id: str) -> str:
    order = await queries.order_for_payment(tx, payment_id)
    if order is None:
        return "ignored: no order has this payment"
    if not await queries.fail_pending(tx, order["id"]):
        return f"ignored: the order is already {order['status']}"
    await notify(
        app,
        order["buyer_id"],
        "order.failed",
        "Your payment did not go through",
        "The order was not paid; you may order again.",
        {"order_id": str(order["id"])},
        tx=tx,
    )
    return "applied: order failed"


async def fail_unpaid_orders(app: web.Application) -> int:
    return await queries.fail_unpaid_orders(app[DB], UNPAID_ORDER_TIMEOUT)
