"""Helpers of the payment tests: signed webhooks as Hyperswitch sends them, a worker aimed at the test server."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from veza.keys import DB, SETTINGS
from veza.payments.signing import sign

WEBHOOK = "/api/v1/webhooks/hyperswitch"


def worker_settings(client):
    """The test app's settings, with PUBLIC_URL at the test server: the worker's deliveries reach it."""
    return client.app[SETTINGS].model_copy(update={"public_url": str(client.make_url("/")).rstrip("/")})


def payment_event(
    payment_id: str,
    event_type: str = "payment_succeeded",
    *,
    amount: int,
    currency: str = "EUR",
    event_id: str | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Hyperswitch OutgoingWebhook for a payment."""
    return {
        "merchant_id": "merchant_1700000000",
        "event_id": event_id or f"evt_{uuid.uuid4().hex}",
        "event_type": event_type,
        "content": {
            "type": "payment_details",
            "object": {
                "payment_id": payment_id,
                "merchant_id": "merchant_1700000000",
                "status": event_type.removeprefix("payment_"),
                "amount": amount,
                "currency": currency,
                "metadata": metadata or {},
            },
        },
        "timestamp": "2026-12-01T08:00:00.000Z",
    }


async def post_webhook(
    client, payload: dict[str, Any], *, signature: str | None = "sign", header: str = "X-Webhook-Signature-512"
):
    body = orjson.dumps(payload)
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        signature = sign(client.app[SETTINGS].hyperswitch_webhook_secret, body)
    if signature is not None:
        headers[header] = signature
    return await client.post(WEBHOOK, data=body, headers=headers)


async def count(client, sql: str, *params: Any) -> int:
    return await client.app[DB].fetch_val(f"SELECT count(*) FROM {sql}", params or None)
