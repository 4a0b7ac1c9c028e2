"""Hyperswitch's webhooks: every event stored once by (source, event_id), and processed in the
transaction that stores it, so that it is processed exactly once however often it arrives.

The payload is Hyperswitch's OutgoingWebhook: `merchant_id`, `event_id`, `event_type`, `timestamp`
and `content: {type, object}`, where `object` is the payment (`payment_details`: `payment_id`,
`status`, `amount`, `currency`, `metadata`...) or the refund (`refund_details`: `refund_id`...).
Copies of one event sent at once queue on the event's row: the first stores and processes it, the
others then find it stored and change nothing. Events of one payment that come late or out of order
are settled by the orders' state rules (`veza.marketplace.orders`), refund events by the refunds'
(`veza.marketplace.refunds`). Unknown event types are stored and acknowledged with the outcome "ignored".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, StrictInt, StrictStr, ValidationError

from veza.db import Transaction, transaction
from veza.errors import Invalid
from veza.http import validation_details
from veza.keys import DB
from veza.marketplace import orders, refunds
from veza.payments import queries

SOURCE = "hyperswitch"
REFUND_EVENTS = {"refund_succeeded", "refund_failed"}


class Content(BaseModel):
    type: StrictStr
    object: dict[str, Any]


class Event(BaseModel):
    event_id: StrictStr = Field(min_length=1, max_length=255)
    event_type: StrictStr = Field(min_length=1, max_length=100)
    content: Content


class PaymentObject(BaseModel):
    payment_id: StrictStr = Field(min_length=1, max_length=255)
    amount: StrictInt
    currency: StrictStr


class RefundObject(BaseModel):
    refund_id: StrictStr = Field(min_length=1, max_length=255)
    payment_id: StrictStr = Field(min_length=1, max_length=255)
    amount: StrictInt
    currency: StrictStr
    metadata: dict[str, Any] | None = None


async def receive(app: web.Application, payload: dict[str, Any]) -> str:
    """Store and process one event; its outcome ("duplicate" when it was received before)."""
    try:
        event = Event.model_validate(payload)
    except ValidationError as exc:
        raise Invalid("Not a Hyperswitch webhook event", details=validation_details(exc)) from None
    return await process_once(
        app, SOURCE, event.event_id, event.event_type, payload, lambda tx: process(tx, app, event)
    )


async def process_once(
    app: web.Application,
    source: str,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    process: Callable[[Transaction], Awaitable[str]],
) -> str:
    """Store the event by (source, id) and `process` it in the same transaction, so that it is processed
    once however often it arrives (copies wait on the first's row, then find it stored); its outcome."""
    async with transaction(app[DB]) as tx:
        if not await queries.insert_webhook_event(tx, source, event_id, event_type, payload):
            return "duplicate"
        outcome = await process(tx)
        await queries.mark_webhook_processed(tx, source, event_id, outcome)
    return outcome


async def process(tx: Transaction, app: web.Application, event: Event) -> str:
    if event.event_type in ("payment_succeeded", "payment_failed"):
        try:
            payment = PaymentObject.model_validate(event.content.object)
        except ValidationError:
            return "ignored: the payment object lacks payment_id, amount or currency"
        if event.event_type == "payment_succeeded":
            return await orders.payment_succeeded(tx, app, payment.payment_id, payment.amount, payment.currency)
        return await orders.payment_failed(tx, app, payment.payment_id)
    if event.event_type in REFUND_EVENTS:
        try:
            refund = RefundObject.model_validate(event.content.object)
        except ValidationError:
            return "ignored: the refund object lacks refund_id, payment_id, amount or currency"
        return await refunds.refund_settled(
            tx,
            app,
            succeeded=event.event_type == "refund_succeeded",
            gateway_refund_id=refund.refund_id,
            payment_id=refund.payment_id,
            amount=refund.amount,
            currency=refund.currency,
            metadata=refund.metadata,
        )
    return f"ignored: unhandled event type {event.event_type}"
