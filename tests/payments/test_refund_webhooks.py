"""Hyperswitch's refund_succeeded / refund_failed webhooks: matched to our refund, applied once however
often, late or concurrently they come, checked against the refund; and refunds through the Hyperswitch
gateway (tests/payments/fake_hyperswitch.py), the request it gets asserted."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from arq.constants import job_key_prefix

from tests.factories import checkout, make_product, make_user, paid_order
from tests.payments.conftest import HYPERSWITCH_API_KEY
from tests.payments.helpers import count, payment_event, post_webhook
from veza.app import create_app
from veza.keys import ARQ, DB
from veza.payments.hyperswitch import derived_id
from veza.payments.payouts import reversal_job_id
from veza.payments.transfer_queries import transition
from workers.payments import resend_refunds

REASON = {"reason": "Not as described"}


@pytest.fixture
async def refund(client):
    """A refund requested (pending) of a completed order of two products from two sellers (3999 EUR);
    the first seller's transfer was paid, the second's not yet."""
    sellers = [await make_user(client), await make_user(client)]
    buyer = await make_user(client)
    products = [
        await make_product(client, sellers[0], title="Beat", price_cents=2999),
        await make_product(client, sellers[1], title="Loop", price_cents=1000),
    ]
    order = await paid_order(client, buyer, *products)
    db = client.app[DB]
    paid = await db.fetch_val(
        "SELECT id FROM seller_transfers WHERE order_id = %s AND seller_id = %s",
        (order["id"], sellers[0]["user"]["id"]),
    )
    await transition(db, paid, "completed", gateway_transfer_id="tr_paid")
    resp = await client.post(f"/api/v1/marketplace/orders/{order['id']}/refund", json=REASON, headers=buyer["headers"])
    assert resp.status == 200, await resp.text()
    row = await db.fetch_one("SELECT id::text, gateway_refund_id FROM refunds")
    payment_id = await db.fetch_val("SELECT payment_id FROM orders WHERE id = %s", (order["id"],))
    return {
        "id": row["id"],
        "gateway_id": row["gateway_refund_id"],
        "order_id": order["id"],
        "payment_id": payment_id,
        "paid_transfer": str(paid),
        "buyer": buyer,
        "sellers": sellers,
    }


def refund_event(
    refund: dict,
    event_type: str = "refund_succeeded",
    *,
    amount: int = 3999,
    currency: str = "EUR",
    payment_id: str | None = None,
    refund_id: str | None = None,
    metadata: dict | None = None,
) -> dict:
    """A Hyperswitch OutgoingWebhook for a refund."""
    return {
        "merchant_id": "merchant_1700000000",
        "event_id": f"evt_{uuid.uuid4().hex}",
        "event_type": event_type,
        "content": {
            "type": "refund_details",
            "object": {
                "refund_id": refund_id or refund["gateway_id"],
                "payment_id": payment_id or refund["payment_id"],
                "status": event_type.removeprefix("refund_"),
                "amount": amount,
                "currency": currency,
                "metadata": {"order_id": refund["order_id"], "refund_id": refund["id"]}
                if metadata is None
                else metadata,
            },
        },
        "timestamp": "2026-12-01T08:00:00.000Z",
    }


async def outcome(client, event_id: str) -> str:
    return await client.app[DB].fetch_val("SELECT outcome FROM webhook_events WHERE event_id = %s", (event_id,))


async def state(client, refund: dict) -> dict:
    """Everything a refund's settlement changes."""
    db, order_id = client.app[DB], refund["order_id"]
    transfers = await db.fetch_all(
        "SELECT status FROM seller_transfers WHERE order_id = %s ORDER BY amount_cents DESC", (order_id,)
    )
    return {
        "refund": await db.fetch_val("SELECT status FROM refunds WHERE id = %s", (refund["id"],)),
        "order": await db.fetch_val("SELECT status FROM orders WHERE id = %s", (order_id,)),
        "licenses": sorted(r["status"] for r in await db.fetch_all("SELECT status FROM licenses")),
        "sales": [r["sales_count"] for r in await db.fetch_all("SELECT sales_count FROM products ORDER BY title")],
        "transfers": [row["status"] for row in transfers],
        "notifications": await count(client, "notifications WHERE type LIKE 'refund.%%' OR type = 'sale.refunded'"),
        "reversals_queued": await client.app[ARQ].exists(job_key_prefix + reversal_job_id(refund["paid_transfer"], 0)),
    }


PENDING = {
    "refund": "pending",
    "order": "refund_pending",
    "licenses": ["active", "active"],
    "sales": [1, 1],
    "transfers": ["completed", "pending"],
    "notifications": 0,
    "reversals_queued": 0,
}
REFUNDED = {
    "refund": "succeeded",
    "order": "refunded",
    "licenses": ["revoked", "revoked"],
    "sales": [0, 0],
    "transfers": ["reversal_pending", "cancelled"],
    "notifications": 3,
    "reversals_queued": 1,
}
FAILED = {**PENDING, "refund": "failed", "order": "completed", "notifications": 3}


async def test_refund_succeeded_settles_everything_once_and_a_copy_changes_nothing(client, refund):
    assert await state(client, refund) == PENDING
    event = refund_event(refund)
    for _ in range(2):
        resp = await post_webhook(client, event)
        assert resp.status == 200
        assert await resp.json() == {"success": True, "data": {"received": True}}
    assert await outcome(client, event["event_id"]) == "applied: refund succeeded, order refunded (was pending)"
    assert await state(client, refund) == REFUNDED
    assert await count(client, "webhook_events WHERE event_type = 'refund_succeeded'") == 1


async def test_fifty_concurrent_copies_apply_once(client, refund):
    event = refund_event(refund)
    answers = await asyncio.gather(*(post_webhook(client, event) for _ in range(50)))
    assert [resp.status for resp in answers] == [200] * 50
    assert await outcome(client, event["event_id"]) == "applied: refund succeeded, order refunded (was pending)"
    assert await state(client, refund) == REFUNDED


async def test_fifty_concurrent_events_of_one_refund_apply_once(client, refund):
    events = [refund_event(refund) for _ in range(50)]
    answers = await asyncio.gather(*(post_webhook(client, event) for event in events))
    assert [resp.status for resp in answers] == [200] * 50
    outcomes = [await outcome(client, event["event_id"]) for event in events]
    assert outcomes.count("applied: refund succeeded, order refunded (was pending)") == 1
    assert outcomes.count("ignored: the refund has already succeeded") == 49
    assert await state(client, refund) == REFUNDED


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"amount": 3998}, "rejected: refunded 3998 EUR of {payment}, the refund is 3999 EUR"),
        ({"amount": 39990}, "rejected: refunded 39990 EUR of {payment}, the refund is 3999 EUR"),
        ({"currency": "USD"}, "rejected: refunded 3999 USD of {payment}, the refund is 3999 EUR"),
        ({"payment_id": "pay_other"}, "rejected: refunded 3999 EUR of pay_other, the refund is 3999 EUR"),
    ],
)
async def test_a_refund_that_does_not_match_changes_nothing(client, refund, caplog, change, expected):
    event = refund_event(refund, **change)
    with caplog.at_level(logging.ERROR, logger="veza.marketplace.refunds"):
        assert (await post_webhook(client, event)).status == 200
    assert await outcome(client, event["event_id"]) == expected.format(payment=refund["payment_id"])
    assert await state(client, refund) == PENDING
    assert [r.levelname for r in caplog.records if refund["id"] in r.getMessage()] == ["ERROR"]


async def test_refund_failed_completes_the_order_again_and_a_late_failure_is_ignored(client, refund):
    failed = refund_event(refund, "refund_failed")
    assert (await post_webhook(client, failed)).status == 200
    assert await outcome(client, failed["event_id"]) == "applied: refund failed, order completed again"
    assert await state(client, refund) == FAILED
    again = refund_event(refund, "refund_failed")
    assert (await post_webhook(client, again)).status == 200
    assert await outcome(client, again["event_id"]) == "ignored: the refund has already failed"
    assert await state(client, refund) == FAILED


async def test_a_failure_after_the_success_is_ignored(client, refund):
    assert (await post_webhook(client, refund_event(refund))).status == 200
    late = refund_event(refund, "refund_failed")
    assert (await post_webhook(client, late)).status == 200
    assert await outcome(client, late["event_id"]) == "ignored: the refund has already succeeded"
    assert await state(client, refund) == REFUNDED


async def test_a_success_after_the_failure_settles_the_refund_after_all(client, refund):
    """The money went back to the buyer: the order is refunded even though a failure was reported first."""
    assert (await post_webhook(client, refund_event(refund, "refund_failed"))).status == 200
    late = refund_event(refund)
    assert (await post_webhook(client, late)).status == 200
    assert await outcome(client, late["event_id"]) == "applied: refund succeeded, order refunded (was failed)"
    assert await state(client, refund) == {**REFUNDED, "notifications": 6}


async def test_a_success_after_the_failure_is_ignored_once_another_refund_is_requested(client, refund):
    await client.app[DB].execute("UPDATE sandbox_refunds SET status = 'failed'")  # as the gateway reports
    assert (await post_webhook(client, refund_event(refund, "refund_failed"))).status == 200
    resp = await client.post(
        f"/api/v1/marketplace/orders/{refund['order_id']}/refund", json=REASON, headers=refund["sellers"][0]["headers"]
    )
    assert resp.status == 200
    late = refund_event(refund)
    assert (await post_webhook(client, late)).status == 200
    assert await outcome(client, late["event_id"]) == "ignored: the refund was failed and the order is refund_pending"
    assert await client.app[DB].fetch_all("SELECT status FROM refunds ORDER BY created_at") == [
        {"status": "failed"},
        {"status": "pending"},
    ]


async def test_a_refund_is_found_by_our_id_while_the_gateway_id_is_not_stored_yet(client, refund):
    """The webhook may come before the request has stored the gateway's answer."""
    await client.app[DB].execute("UPDATE refunds SET gateway_refund_id = NULL")
    event = refund_event(refund, refund_id="ref_answer_not_stored_yet")
    assert (await post_webhook(client, event)).status == 200
    assert await outcome(client, event["event_id"]) == "applied: refund succeeded, order refunded (was pending)"
    assert await state(client, refund) == REFUNDED
    assert await client.app[DB].fetch_val("SELECT gateway_refund_id FROM refunds") == "ref_answer_not_stored_yet"


@pytest.mark.parametrize(
    "change",
    [
        {"refund_id": "ref_unknown", "metadata": {}},
        {"refund_id": "ref_unknown", "metadata": {"refund_id": "not-a-uuid"}},
        {"refund_id": "ref_unknown", "metadata": {"refund_id": str(uuid.uuid4())}},
        # our id, but the refund already has another gateway id: not this one
        {"refund_id": "ref_unknown"},
    ],
)
async def test_an_event_for_no_refund_changes_nothing(client, refund, change):
    event = refund_event(refund, **change)
    assert (await post_webhook(client, event)).status == 200
    assert await outcome(client, event["event_id"]) == "ignored: no refund has this id"
    assert await state(client, refund) == PENDING


async def test_a_refund_object_without_its_fields_is_ignored(client, refund):
    event = refund_event(refund)
    del event["content"]["object"]["amount"]
    assert (await post_webhook(client, event)).status == 200
    assert await outcome(client, event["event_id"]) == (
        "ignored: the refund object lacks refund_id, payment_id, amount or currency"
    )
    assert await state(client, refund) == PENDING


# The Hyperswitch gateway.

GATEWAY_TIMEOUT = 1.0  # seconds: a hanging Hyperswitch costs a request this long


@pytest.fixture
async def hyperswitch_client(aiohttp_client, settings, fake_hyperswitch):
    update = {
        "payment_gateway": "hyperswitch",
        "hyperswitch_base_url": fake_hyperswitch.url,
        "hyperswitch_api_key": HYPERSWITCH_API_KEY,
        "gateway_timeout": GATEWAY_TIMEOUT,
    }
    return await aiohttp_client(create_app(settings.model_copy(update=update)))


async def hyperswitch_order(client, fake_hyperswitch) -> dict:
    """An order paid on Hyperswitch: created, settled there, its payment_succeeded webhook received."""
    seller, buyer = await make_user(client), await make_user(client)
    created = await checkout(client, buyer, await make_product(client, seller, price_cents=2999))
    payment_id = created["payment"]["payment_id"]
    fake_hyperswitch.settle(payment_id)
    assert (await post_webhook(client, payment_event(payment_id, amount=2999))).status == 200
    return {"id": created["order"]["id"], "payment_id": payment_id, "buyer": buyer}


async def test_a_refund_through_hyperswitch(hyperswitch_client, fake_hyperswitch):
    client = hyperswitch_client
    order = await hyperswitch_order(client, fake_hyperswitch)
    body = {"reason": "Not as described", "details": "Wrong key"}
    resp = await client.post(
        f"/api/v1/marketplace/orders/{order['id']}/refund", json=body, headers=order["buyer"]["headers"]
    )
    assert resp.status == 200, await resp.text()
    refund_id = await client.app[DB].fetch_val("SELECT id::text FROM refunds")
    (request,) = [r for r in fake_hyperswitch.requests if r.path == "/refunds"]
    assert request.method == "POST" and request.headers["api-key"] == HYPERSWITCH_API_KEY
    assert request.json == {
        "payment_id": order["payment_id"],
        "refund_id": derived_id("ref", refund_id),
        "amount": 2999,
        "reason": "Not as described",
        "metadata": {"order_id": order["id"], "refund_id": refund_id},
    }
    assert await client.app[DB].fetch_val("SELECT gateway_refund_id FROM refunds") == derived_id("ref", refund_id)
    assert await client.app[DB].fetch_val("SELECT status FROM orders") == "refund_pending"

    # Hyperswitch settles it later and tells the app
    made = fake_hyperswitch.refunds[derived_id("ref", refund_id)]
    event = {
        "merchant_id": fake_hyperswitch.merchant_id,
        "event_id": "evt_hs_refund_1",
        "event_type": "refund_succeeded",
        "content": {"type": "refund_details", "object": {**made, "status": "succeeded"}},
        "timestamp": "2026-12-01T08:00:00.000Z",
    }
    assert (await post_webhook(client, event)).status == 200
    assert await client.app[DB].fetch_val("SELECT status FROM orders") == "refunded"
    assert await client.app[DB].fetch_val("SELECT status FROM refunds") == "succeeded"
    assert await count(client, "licenses WHERE status = 'revoked'") == 1


async def test_hyperswitch_down_then_the_sweep_makes_the_refund_once(hyperswitch_client, fake_hyperswitch):
    client = hyperswitch_client
    order = await hyperswitch_order(client, fake_hyperswitch)
    fake_hyperswitch.fail_next(1, 503)
    resp = await client.post(
        f"/api/v1/marketplace/orders/{order['id']}/refund", json=REASON, headers=order["buyer"]["headers"]
    )
    assert resp.status == 503
    assert await client.app[DB].fetch_one("SELECT status, gateway_refund_id FROM refunds") == {
        "status": "pending",
        "gateway_refund_id": None,
    }
    assert fake_hyperswitch.refunds == {}

    await client.app[DB].execute("UPDATE refunds SET created_at = now() - interval '2 minutes'")
    assert await resend_refunds({"app": client.app}) == 1
    refund_id = await client.app[DB].fetch_val("SELECT id::text FROM refunds")
    posts = [r.json["refund_id"] for r in fake_hyperswitch.requests if r.path == "/refunds"]
    assert posts == [derived_id("ref", refund_id)] * 2  # the same id both times: one refund at most
    assert list(fake_hyperswitch.refunds) == [derived_id("ref", refund_id)]
    assert await client.app[DB].fetch_val("SELECT gateway_refund_id FROM refunds") == derived_id("ref", refund_id)


async def test_an_answer_lost_in_a_timeout_never_makes_two_refunds(hyperswitch_client, fake_hyperswitch):
    """Hyperswitch made the refund but answered too late: the sweep's call finds that refund (HE_01)."""
    client = hyperswitch_client
    order = await hyperswitch_order(client, fake_hyperswitch)
    fake_hyperswitch.hang_next(1)
    resp = await client.post(
        f"/api/v1/marketplace/orders/{order['id']}/refund", json=REASON, headers=order["buyer"]["headers"]
    )
    assert resp.status == 503
    fake_hyperswitch.release()
    await fake_hyperswitch.quiet()
    refund_id = await client.app[DB].fetch_val("SELECT id::text FROM refunds")
    assert list(fake_hyperswitch.refunds) == [derived_id("ref", refund_id)]

    await client.app[DB].execute("UPDATE refunds SET created_at = now() - interval '2 minutes'")
    assert await resend_refunds({"app": client.app}) == 1
    calls = [(r.method, r.path) for r in fake_hyperswitch.requests if r.path.startswith("/refunds")]
    gateway_id = derived_id("ref", refund_id)
    assert calls == [("POST", "/refunds"), ("POST", "/refunds"), ("GET", f"/refunds/{gateway_id}")]
    assert list(fake_hyperswitch.refunds) == [gateway_id]
    assert await client.app[DB].fetch_one("SELECT status, gateway_refund_id FROM refunds") == {
        "status": "pending",
        "gateway_refund_id": gateway_id,
    }


async def test_a_refund_hyperswitch_refuses_fails_and_the_order_stands(hyperswitch_client, fake_hyperswitch):
    client = hyperswitch_client
    order = await hyperswitch_order(client, fake_hyperswitch)
    fake_hyperswitch.payments[order["payment_id"]]["status"] = "failed"  # Hyperswitch: IR_14, not refundable
    resp = await client.post(
        f"/api/v1/marketplace/orders/{order['id']}/refund", json=REASON, headers=order["buyer"]["headers"]
    )
    assert resp.status == 502
    assert (await resp.json())["code"] == "payment_refused"
    assert await client.app[DB].fetch_val("SELECT status FROM refunds") == "failed"
    assert await client.app[DB].fetch_val("SELECT status FROM orders") == "completed"
