"""The sandbox gateway: a local participant that behaves like Hyperswitch, without the network.

It keeps its own books (`sandbox_payments`, `sandbox_refunds`). A payment is created with an
idempotency key and answered with an id and a client secret; the buyer then confirms it through
`POST /payments/sandbox/{payment_id}/confirm` (development and tests only), which settles it and, in
the same transaction, writes the webhook Hyperswitch would send as a `sandbox_events` row. An arq job
POSTs that body, signed as Hyperswitch signs, to the app's own `PUBLIC_URL/api/v1/webhooks/hyperswitch`
and retries with backoff until the app answers 2xx; a cron sweep queues again every event still
undelivered (a process that died between the COMMIT and the enqueue loses nothing). So the sandbox
exercises exactly the webhook code that production runs. A refund settles at once the same way: its
`refund_succeeded` (or, when a test sets `fail_refunds`, `refund_failed`) is written with it and delivered.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from veza.auth.tokens import AuthUser
from veza.constants import API_PREFIX, DELIVER_SANDBOX_EVENT_JOB
from veza.db import Database, Row, transaction
from veza.errors import Conflict, NotFound
from veza.http import json_dumps
from veza.jobs import enqueue
from veza.keys import DB, SETTINGS
from veza.payments import queries
from veza.payments.gateway import GatewayRefused, GatewayUnavailable, Payment, Refund
from veza.payments.signing import sign
from veza.settings import Settings

log = logging.getLogger(__name__)

MERCHANT_ID = "veza_sandbox"
WEBHOOK_PATH = f"{API_PREFIX}/webhooks/hyperswitch"
MAX_RETRY_DELAY = 300.0  # seconds between two deliveries of one event, at most
SWEEP_BATCH = 1000
SETTLED = ("succeeded", "failed")
PAYMENT_NOT_FOUND = "Payment not found"


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def payment_from_row(row: Row) -> Payment:
    return Payment(
        payment_id=row["id"],
        client_secret=row["client_secret"],
        status=row["status"],
        amount=row["amount"],
        currency=row["currency"],
        metadata=row["metadata"],
    )


class SandboxGateway:
    name = "sandbox"

    def __init__(self, db: Database, queue_delivery: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.db = db
        # Queues the delivery of an event once written (the sweep delivers it anyway, later).
        self.queue_delivery = queue_delivery
        # Set by tests to play an outage: every call then fails as a gateway that does not answer.
        self.unavailable = False
        # Set by tests: the refunds created meanwhile fail (their webhook is `refund_failed`).
        self.fail_refunds = False

    def _answer(self) -> None:
        if self.unavailable:
            raise GatewayUnavailable()

    async def create_payment(
        self, *, amount: int, currency: str, idempotency_key: str, description: str, metadata: dict[str, str]
    ) -> Payment:
        self._answer()
        payment_id = new_id("pay")
        row = await queries.insert_sandbox_payment(
            self.db,
            {
                "id": payment_id,
                "idempotency_key": idempotency_key,
                "amount": amount,
                "currency": currency,
                "client_secret": f"{payment_id}_secret_{secrets.token_hex(10)}",
                "description": description,
                "metadata": metadata,
            },
        )
        return payment_from_row(row)

    async def retrieve_payment(self, payment_id: str) -> Payment:
        self._answer()
        row = await queries.sandbox_payment(self.db, payment_id)
        if row is None:
            raise GatewayRefused("The payment service knows no such payment")
        return payment_from_row(row)

    async def create_refund(
        self, *, payment_id: str, amount: int, idempotency_key: str, reason: str, metadata: dict[str, str]
    ) -> Refund:
        """A refund settles at once (or fails, when `fail_refunds` is set): its webhook is written in the
        same transaction and delivered after the commit. The same idempotency key gives the same refund."""
        self._answer()
        async with transaction(self.db) as tx:
            payment = await queries.sandbox_payment(tx, payment_id, lock=True)  # one refund of a payment at a time
            row = await queries.sandbox_refund_for_key(tx, idempotency_key)
            if row is None:
                refundable = payment is not None and payment["status"] == "succeeded"
                if not refundable or amount > payment["amount"] - await queries.sandbox_refunded(tx, payment_id):
                    raise GatewayRefused("The payment service refused the refund")
                row = await queries.insert_sandbox_refund(
                    tx,
                    {
                        "id": new_id("ref"),
                        "idempotency_key": idempotency_key,
                        "payment_id": payment_id,
                        "amount": amount,
                        "currency": payment["currency"],
                        "status": "failed" if self.fail_refunds else "succeeded",
                        "reason": reason,
                        "metadata": metadata,
                    },
                )
                event_id = new_id("evt")
                event_type, body = refund_event(event_id, row)
                await queries.insert_sandbox_event(tx, event_id, event_type, body)
                if self.queue_delivery is not None:
                    tx.after_commit(self.queue_delivery, event_id)
        return Refund(
            refund_id=row["id"],
            payment_id=row["payment_id"],
            status=row["status"],
            amount=row["amount"],
            currency=row["currency"],
            metadata=row["metadata"],
        )

    async def close(self) -> None:
        return None


def payment_event(event_id: str, payment: Row, status: str) -> tuple[str, str]:
    """The event type and JSON body Hyperswitch sends when a payment settles (its OutgoingWebhook)."""
    event_type = f"payment_{status}"
    body = {
        "merchant_id": MERCHANT_ID,
        "event_id": event_id,
        "event_type": event_type,
        "content": {
            "type": "payment_details",
            "object": {
                "payment_id": payment["id"],
                "merchant_id": MERCHANT_ID,
                "status": status,
                "amount": payment["amount"],
                "net_amount": payment["amount"],
                "amount_received": payment["amount"] if status == "succeeded" else None,
                "currency": payment["currency"],
                "description": payment["description"],
                "metadata": payment["metadata"],
                "created": utc_iso(payment["created_at"]),
                "error_code": None if status == "succeeded" else "card_declined",
                "error_message": None if status == "succeeded" else "The sandbox declined the payment",
            },
        },
        "timestamp": utc_iso(datetime.now(UTC)),
    }
    return event_type, json_dumps(body).decode()


def refund_event(event_id: str, refund: Row) -> tuple[str, str]:
    """The event type and JSON body Hyperswitch sends when a refund settles (`refund_details`)."""
    status = refund["status"]
    event_type = f"refund_{status}"
    body = {
        "merchant_id": MERCHANT_ID,
        "event_id": event_id,
        "event_type": event_type,
        "content": {
            "type": "refund_details",
            "object": {
                "refund_id": refund["id"],
                "payment_id": refund["payment_id"],
                "amount": refund["amount"],
                "currency": refund["currency"],
                "status": status,
                "reason": refund["reason"],
                "metadata": refund["metadata"],
                "error_code": None if status == "succeeded" else "refund_declined",
                "error_message": None if status == "succeeded" else "The sandbox declined the refund",
                "created_at": utc_iso(refund["created_at"]),
                "updated_at": utc_iso(refund["updated_at"]),
                "connector": "sandbox",
            },
        },
        "timestamp": utc_iso(datetime.now(UTC)),
    }
    return event_type, json_dumps(body).decode()


def delivery_job_id(event_id: str) -> str:
    return f"{DELIVER_SANDBOX_EVENT_JOB}:{event_id}"


async def queue_delivery(app: web.Application, event_id: str) -> None:
    await enqueue(app, DELIVER_SANDBOX_EVENT_JOB, event_id, job_id=delivery_job_id(event_id))


async def confirm(app: web.Application, buyer: AuthUser, payment_id: str, outcome: str) -> dict[str, Any]:
    """Settle a sandbox payment as the buyer's bank would; its webhook follows through a job."""
    if app[SETTINGS].is_production:
        raise NotFound()
    async with transaction(app[DB]) as tx:
        payment = await queries.sandbox_payment(tx, payment_id, lock=True)
        if payment is None or payment["metadata"].get("buyer_id") != str(buyer.id):
            raise NotFound(PAYMENT_NOT_FOUND)
        if payment["status"] in SETTLED:
            raise Conflict(f"The payment has already {payment['status']}", code="payment_settled")
        await queries.settle_sandbox_payment(tx, payment_id, outcome)
        event_id = new_id("evt")
        event_type, body = payment_event(event_id, payment, outcome)
        await queries.insert_sandbox_event(tx, event_id, event_type, body)
        tx.after_commit(queue_delivery, app, event_id)
    return {"payment_id": payment_id, "status": outcome, "event_id": event_id}


def retry_delay(settings: Settings, attempt: int) -> float:
    """Seconds before delivery attempt `attempt + 1`: doubling from SANDBOX_WEBHOOK_RETRY_SECONDS."""
    return min(settings.sandbox_webhook_retry_seconds * 2 ** (attempt - 1), MAX_RETRY_DELAY)


def webhook_url(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + WEBHOOK_PATH


async def deliver_event(app: web.Application, event_id: str, url: str | None = None) -> bool:
    """POST the event, signed, to `url` (the app's own webhook by default); whether it is delivered
    (answered 2xx, now or before)."""
    db, settings = app[DB], app[SETTINGS]
    event = await queries.sandbox_event(db, event_id)
    if event is None or event["delivered_at"] is not None:
        return True
    body = event["body"].encode()
    headers = {
        "Content-Type": "application/json",
        "X-Webhook-Signature-512": sign(settings.hyperswitch_webhook_secret, body),
    }
    timeout = aiohttp.ClientTimeout(total=settings.gateway_timeout, sock_connect=settings.gateway_connect_timeout)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(url or webhook_url(settings), data=body, headers=headers) as resp,
        ):
            delivered = 200 <= resp.status < 300
            if not delivered:
                log.warning("sandbox event %s: the webhook answered %s", event_id, resp.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("sandbox event %s: the webhook could not be reached (%s: %s)", event_id, type(exc).__name__, exc)
        delivered = False
    await queries.record_delivery_attempt(db, event_id, delivered=delivered)
    return delivered


async def sweep_undelivered(app: web.Application) -> int:
    """Queue again every event still undelivered; the job id is the event's, so none runs twice at once."""
    event_ids = await queries.undelivered_sandbox_events(app[DB], SWEEP_BATCH)
    for event_id in event_ids:
        await queue_delivery(app, event_id)
    return len(event_ids)
