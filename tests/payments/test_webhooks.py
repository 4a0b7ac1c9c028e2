"""POST /webhooks/hyperswitch: signatures, exactly-once processing, late and out-of-order events."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

from tests.factories import checkout, make_product, make_user
from tests.payments.helpers import WEBHOOK, count, payment_event, post_webhook
from veza.keys import DB, SETTINGS
from veza.payments.signing import sign


@pytest.fixture
async def order(client):
    """A pending order of two products from two sellers (29.99 and 10.00 EUR), its buyer and sellers."""
    sellers = [await make_user(client), await make_user(client)]
    buyer = await make_user(client)
    products = [
        await make_product(client, sellers[0], title="Beat", price_cents=2999),
        await make_product(client, sellers[1], title="Loop", price_cents=1000),
    ]
    created = await checkout(client, buyer, *products)
    return {
        "id": created["order"]["id"],
        "payment_id": created["payment"]["payment_id"],
        "buyer": buyer,
        "sellers": sellers,
        "products": products,
    }


async def status(client, order_id: str) -> str:
    return await client.app[DB].fetch_val("SELECT status FROM orders WHERE id = %s", (order_id,))


async def outcome(client, event_id: str) -> str:
    return await client.app[DB].fetch_val("SELECT outcome FROM webhook_events WHERE event_id = %s", (event_id,))


async def completion_rows(client, order_id: str) -> dict[str, int]:
    return {
        "licenses": await count(client, "licenses WHERE order_id = %s", order_id),
        "transfers": await count(client, "seller_transfers WHERE order_id = %s", order_id),
        "invoices": await count(client, "invoices WHERE order_id = %s", order_id),
        "notifications": await count(client, "notifications"),
        "sales": await client.app[DB].fetch_val("SELECT sum(sales_count)::int FROM products"),
    }


COMPLETED = {"licenses": 2, "transfers": 2, "invoices": 1, "notifications": 3, "sales": 2}
UNTOUCHED = {"licenses": 0, "transfers": 0, "invoices": 0, "notifications": 0, "sales": 0}


@pytest.mark.parametrize(
    ("signature", "header"),
    [
        (None, "X-Webhook-Signature-512"),
        ("", "X-Webhook-Signature-512"),
        ("0" * 128, "X-Webhook-Signature-512"),
        ("wrong-secret", "X-Webhook-Signature-512"),
        ("é", "X-Hyperswitch-Signature"),
        ("0" * 128, "X-Hyperswitch-Signature"),
    ],
)
async def test_a_bad_or_missing_signature_is_401_and_stores_nothing(client, order, signature, header):
    payload = payment_event(order["payment_id"], amount=3999)
    if signature == "wrong-secret":
        signature = sign("another secret", orjson.dumps(payload))
    resp = await post_webhook(client, payload, signature=signature, header=header)
    assert resp.status == 401
    assert (await resp.json())["code"] == "invalid_signature"
    assert await count(client, "webhook_events") == 0
    assert await status(client, order["id"]) == "pending"
    assert await completion_rows(client, order["id"]) == UNTOUCHED


async def test_the_signature_covers_the_raw_body(client, order):
    payload = payment_event(order["payment_id"], amount=3999)
    body = orjson.dumps(payload)
    signature = sign(client.app[SETTINGS].hyperswitch_webhook_secret, body)
    tampered = body.replace(b"3999", b"1")
    resp = await client.post(
        WEBHOOK, data=tampered, headers={"Content-Type": "application/json", "X-Webhook-Signature-512": signature}
    )
    assert resp.status == 401
    assert await count(client, "webhook_events") == 0


async def test_the_reference_header_is_accepted_too(client, order):
    payload = payment_event(order["payment_id"], amount=3999)
    resp = await post_webhook(client, payload, header="X-Hyperswitch-Signature")
    assert resp.status == 200
    assert await resp.json() == {"success": True, "data": {"received": True}}
    assert await status(client, order["id"]) == "completed"


async def test_payment_succeeded_completes_the_order_with_exact_transfers(client, order):
    event = payment_event(order["payment_id"], amount=3999)
    assert (await post_webhook(client, event)).status == 200
    assert await status(client, order["id"]) == "completed"
    assert await completion_rows(client, order["id"]) == COMPLETED
    transfers = await client.app[DB].fetch_all(
        "SELECT seller_id::text, amount_cents, platform_fee_cents FROM seller_transfers WHERE order_id = %s "
        "ORDER BY amount_cents",
        (order["id"],),
    )
    assert transfers == [
        {"seller_id": order["sellers"][1]["user"]["id"], "amount_cents": 900, "platform_fee_cents": 100},
        {"seller_id": order["sellers"][0]["user"]["id"], "amount_cents": 2699, "platform_fee_cents": 300},
    ]
    stored = await client.app[DB].fetch_one(
        "SELECT source, event_type, payload, processed_at IS NOT NULL AS processed FROM webhook_events"
    )
    assert stored == {"source": "hyperswitch", "event_type": "payment_succeeded", "payload": event, "processed": True}


async def test_fifty_concurrent_copies_change_the_state_once(client, order):
    event = payment_event(order["payment_id"], amount=3999)
    answers = await asyncio.gather(*(post_webhook(client, event) for _ in range(50)))
    assert [resp.status for resp in answers] == [200] * 50
    assert await count(client, "webhook_events") == 1
    assert await outcome(client, event["event_id"]) == "applied: order completed (was pending)"
    assert await completion_rows(client, order["id"]) == COMPLETED
    # one license per item, one transfer per seller
    assert (
        await count(
            client, "licenses l JOIN order_items i ON i.id = l.order_item_id WHERE i.order_id = %s", order["id"]
        )
        == 2
    )
    assert await count(client, "(SELECT DISTINCT seller_id FROM seller_transfers) s") == 2


async def test_fifty_concurrent_events_of_one_payment_complete_it_once(client, order):
    """Distinct event ids (Hyperswitch's retries of a notification) for one payment: one completion."""
    events = [payment_event(order["payment_id"], amount=3999) for _ in range(50)]
    answers = await asyncio.gather(*(post_webhook(client, event) for event in events))
    assert [resp.status for resp in answers] == [200] * 50
    outcomes = [await outcome(client, event["event_id"]) for event in events]
    assert outcomes.count("applied: order completed (was pending)") == 1
    assert outcomes.count("ignored: the order is already completed") == 49
    assert await completion_rows(client, order["id"]) == COMPLETED


async def test_failed_then_a_late_success_completes_the_order(client, order):
    failed = payment_event(order["payment_id"], "payment_failed", amount=3999)
    assert (await post_webhook(client, failed)).status == 200
    row = await client.app[DB].fetch_one("SELECT status, failed_at, paid_at FROM orders WHERE id = %s", (order["id"],))
    assert row["status"] == "failed" and row["failed_at"] is not None and row["paid_at"] is None
    assert await outcome(client, failed["event_id"]) == "applied: order failed"
    assert await client.app[DB].fetch_all("SELECT type, user_id::text FROM notifications") == [
        {"type": "order.failed", "user_id": order["buyer"]["user"]["id"]}
    ]

    succeeded = payment_event(order["payment_id"], amount=3999)
    assert (await post_webhook(client, succeeded)).status == 200
    assert await status(client, order["id"]) == "completed"
    assert await outcome(client, succeeded["event_id"]) == "applied: order completed (was failed)"
    assert await completion_rows(client, order["id"]) == {**COMPLETED, "notifications": 4}


async def test_success_then_a_late_failure_is_ignored(client, order):
    assert (await post_webhook(client, payment_event(order["payment_id"], amount=3999))).status == 200
    late = payment_event(order["payment_id"], "payment_failed", amount=3999)
    assert (await post_webhook(client, late)).status == 200
    assert await status(client, order["id"]) == "completed"
    assert await outcome(client, late["event_id"]) == "ignored: the order is already completed"
    assert await completion_rows(client, order["id"]) == COMPLETED


@pytest.mark.parametrize(("amount", "currency"), [(3998, "EUR"), (3999, "USD"), (39990, "EUR")])
async def test_a_payment_that_does_not_match_the_order_changes_nothing(client, order, caplog, amount, currency):
    event = payment_event(order["payment_id"], amount=amount, currency=currency)
    with caplog.at_level(logging.ERROR, logger="veza.marketplace.orders"):
        assert (await post_webhook(client, event)).status == 200
    assert await status(client, order["id"]) == "pending"
    assert await outcome(client, event["event_id"]) == f"rejected: paid {amount} {currency}, the order is 3999 EUR"
    assert await completion_rows(client, order["id"]) == UNTOUCHED
    assert [r.levelname for r in caplog.records if order["payment_id"] in r.getMessage()] == ["ERROR"]


async def test_an_unknown_event_type_is_stored_and_acknowledged(client, order):
    event = payment_event(order["payment_id"], "dispute_opened", amount=3999)
    event["content"]["type"] = "dispute_details"
    resp = await post_webhook(client, event)
    assert resp.status == 200
    assert await outcome(client, event["event_id"]) == "ignored: unhandled event type dispute_opened"
    assert await status(client, order["id"]) == "pending"


async def test_refund_events_are_stored_and_marked_processed(client, order):
    event = {
        "merchant_id": "merchant_1700000000",
        "event_id": "evt_refund_1",
        "event_type": "refund_succeeded",
        "content": {
            "type": "refund_details",
            "object": {"refund_id": "ref_1", "payment_id": order["payment_id"], "status": "succeeded", "amount": 3999,
                       "currency": "EUR", "metadata": {}},
        },
        "timestamp": "2026-12-01T08:00:00.000Z",
    }  # fmt: skip
    assert (await post_webhook(client, event)).status == 200
    assert await outcome(client, "evt_refund_1") == "ignored: no refund has this id"


async def test_an_event_for_no_order_is_stored_and_acknowledged(client):
    event = payment_event("pay_unknown", amount=100)
    assert (await post_webhook(client, event)).status == 200
    assert await outcome(client, event["event_id"]) == "ignored: no order has this payment"


async def test_signed_but_malformed_bodies_are_refused(client, order):
    secret = client.app[SETTINGS].hyperswitch_webhook_secret
    for body, expected in (
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"event_id": 1}', 422),
        (b'{"a": "\\u0000"}', 422),
    ):
        resp = await client.post(
            WEBHOOK,
            data=body,
            headers={"Content-Type": "application/json", "X-Webhook-Signature-512": sign(secret, body)},
        )
        assert resp.status == expected, body
    assert await count(client, "webhook_events") == 0


async def test_the_body_size_is_limited(client):
    body = b'{"pad": "' + b"x" * (300 * 1024) + b'"}'
    resp = await client.post(WEBHOOK, data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 413
    assert await count(client, "webhook_events") == 0
