"""Stripe's webhooks (Connect): the `Stripe-Signature` check, and each event stored and processed once.

Stripe signs `"{t}.{raw body}"` with HMAC-SHA256 keyed by the endpoint's secret (STRIPE_WEBHOOK_SECRET)
and sends `Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...]` (several v1 while a secret is
rolled). A signature older than TOLERANCE_SECONDS is refused, so a captured request cannot be
replayed later. Every verified event is stored by (source, id) in `webhook_events` and processed in
the transaction that stores it. `account.updated` whose account can now receive transfers marks its
seller connected; every other event is stored and acknowledged.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, StrictStr, ValidationError

from veza.db import Transaction
from veza.errors import Invalid, Unauthorized
from veza.http import validation_details
from veza.payments.sellers import mark_connected
from veza.payments.webhooks import process_once

SOURCE = "stripe"
TOLERANCE_SECONDS = 300
SIGNATURE_HEADER = "Stripe-Signature"


def account_connected(account: dict[str, Any]) -> bool:
    """Whether transfers may be sent to the Stripe account: onboarding submitted and its `transfers`
    capability active (what Stripe requires of a transfer's destination)."""
    capabilities = account.get("capabilities")
    transfers = capabilities.get("transfers") if isinstance(capabilities, dict) else None
    return account.get("details_submitted") is True and transfers == "active"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `Stripe-Signature` header Stripe would send for this body at this time."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str | None, body: bytes, header: str | None, *, now: float | None = None) -> None:
    """Raise Unauthorized unless `header` signs `body` with `secret`, within TOLERANCE_SECONDS."""
    if not secret:
        raise Unauthorized("Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)", code="invalid_signature")
    fields = [part.partition("=") for part in (header or "").split(",")]
    timestamps = [value.strip() for key, _, value in fields if key.strip() == "t"]
    signatures = [value.strip() for key, _, value in fields if key.strip() == "v1"]
    if len(timestamps) != 1 or not timestamps[0].isascii() or not timestamps[0].isdigit() or not signatures:
        raise Unauthorized("Missing or malformed Stripe-Signature header", code="invalid_signature")
    timestamp = int(timestamps[0])
    expected = sign(secret, body, timestamp).partition(",v1=")[2].encode()
    # bytes: any text compares, never raises; every candidate is compared (no early exit)
    if not any([hmac.compare_digest(expected, s.encode("utf-8", "replace")) for s in signatures]):
        raise Unauthorized("Invalid webhook signature", code="invalid_signature")
    if timestamp < (time.time() if now is None else now) - TOLERANCE_SECONDS:
        raise Unauthorized("The webhook signature is too old", code="stale_signature")


class EventData(BaseModel):
    object: dict[str, Any]


class Event(BaseModel):
    id: StrictStr = Field(min_length=1, max_length=255)
    type: StrictStr = Field(min_length=1, max_length=100)
    data: EventData


class AccountObject(BaseModel):
    id: StrictStr = Field(min_length=1, max_length=255)


async def receive(app: web.Application, payload: dict[str, Any]) -> str:
    """Store and process one verified event; its outcome ("duplicate" when it was received before)."""
    try:
        event = Event.model_validate(payload)
    except ValidationError as exc:
        raise Invalid("Not a Stripe event", details=validation_details(exc)) from None
    return await process_once(app, SOURCE, event.id, event.type, payload, lambda tx: process(tx, app, event))


async def process(tx: Transaction, app: web.Application, event: Event) -> str:
    if event.type != "account.updated":
        return f"ignored: unhandled event type {event.type}"
    try:
        account = AccountObject.model_validate(event.data.object)
    except ValidationError:
        return "ignored: the account object lacks its id"
    if not account_connected(event.data.object):
        return "ignored: onboarding not complete"
    return await mark_connected(tx, app, account.id)
