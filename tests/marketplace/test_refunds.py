"""POST /marketplace/orders/{id}/refund on the sandbox gateway: who may ask, when, once; the refund's
webhook delivered by the real worker settles the order, its licenses, sales counts and transfers."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from arq import func

from tests.factories import checkout, make_product, make_user, paid_order, run_burst_worker, ws_receive, ws_subscribe
from tests.payments.helpers import count, worker_settings
from veza.constants import REVERSE_TRANSFER_JOB
from veza.keys import DB, PAYMENT_GATEWAY
from veza.payments.transfer_queries import transition
from workers.payments import resend_refunds

REASON = {"reason": "Not as described", "details": "The loop is 30 s, not 2 min"}


def url(order_id: str) -> str:
    return f"/api/v1/marketplace/orders/{order_id}/refund"


@pytest.fixture
async def order(client):
    """A completed order of two products from two sellers (29.99 and 10.00 EUR)."""
    sellers = [await make_user(client), await make_user(client)]
    buyer = await make_user(client)
    products = [
        await make_product(client, sellers[0], title="Beat", price_cents=2999),
        await make_product(client, sellers[1], title="Loop", price_cents=1000),
    ]
    paid = await paid_order(client, buyer, *products)
    return {"id": paid["id"], "buyer": buyer, "sellers": sellers, "products": products}


async def request(client, user, order_id, body=None, headers=None):
    return await client.post(
        url(order_id), json=REASON if body is None else body, headers={**user["headers"], **(headers or {})}
    )


async def order_status(client, order_id: str) -> str:
    return await client.app[DB].fetch_val("SELECT status FROM orders WHERE id = %s", (order_id,))


async def refunds(client) -> list[dict]:
    return await client.app[DB].fetch_all(
        "SELECT status, amount_cents, currency, requested_by::text, gateway_refund_id IS NOT NULL AS sent, "
        "settled_at IS NOT NULL AS settled FROM refunds ORDER BY created_at"
    )


async def transfers(client, order_id: str) -> dict[str, str]:
    rows = await client.app[DB].fetch_all(
        "SELECT seller_id::text, status FROM seller_transfers WHERE order_id = %s", (order_id,)
    )
    return {row["seller_id"]: row["status"] for row in rows}


async def notification_types(client) -> list[tuple[str, str]]:
    rows = await client.app[DB].fetch_all("SELECT user_id::text, type FROM notifications ORDER BY user_id, type")
    return [(row["user_id"], row["type"]) for row in rows]


def reversal_recorder():
    """Stands in for the reversal job (another module's): records which transfers were queued for reversal."""
    queued: list[str] = []

    async def reverse_transfer(ctx: dict, transfer_id: str) -> None:
        queued.append(transfer_id)

    return queued, func(reverse_transfer, name=REVERSE_TRANSFER_JOB)


async def settle(client, *extra):
    """Run the real worker: the sandbox's refund webhook is POSTed to this test server."""
    await run_burst_worker(worker_settings(client), *extra)


async def test_a_refund_on_the_sandbox_settles_the_order(client, order):
    buyer, sellers = order["buyer"], order["sellers"]
    buyer_id, seller_ids = buyer["user"]["id"], [s["user"]["id"] for s in sellers]
    sent = await client.app[DB].fetch_val(
        "SELECT id FROM seller_transfers WHERE order_id = %s AND seller_id = %s", (order["id"], seller_ids[0])
    )
    assert await transition(client.app[DB], sent, "completed", gateway_transfer_id="tr_sent")  # the first was paid
    download = f"/api/v1/marketplace/products/{order['products'][0]['id']}/download"
    assert (await client.get(download, headers=buyer["headers"])).status == 200
    ws = await client.ws_connect(f"/api/v1/ws?token={buyer['access_token']}")
    await ws_subscribe(ws, "notifications")

    resp = await request(client, buyer, order["id"])
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"success": True, "data": {"message": "Refund initiated"}}
    assert await order_status(client, order["id"]) == "refund_pending"
    assert await refunds(client) == [
        {"status": "pending", "amount_cents": 3999, "currency": "EUR", "requested_by": buyer_id, "sent": True,
         "settled": False}
    ]  # fmt: skip
    refund = await client.app[DB].fetch_one("SELECT id::text, gateway_refund_id, details FROM refunds")
    assert refund["details"] == REASON["details"]
    event = await client.app[DB].fetch_one("SELECT event_type, body, delivered_at FROM sandbox_events "
                                           "WHERE event_type LIKE 'refund%%'")  # fmt: skip
    assert event["event_type"] == "refund_succeeded" and event["delivered_at"] is None
    body = orjson.loads(event["body"])
    assert body["content"]["type"] == "refund_details"
    assert {k: body["content"]["object"][k] for k in ("refund_id", "amount", "currency", "status", "metadata")} == {
        "refund_id": refund["gateway_refund_id"],
        "amount": 3999,
        "currency": "EUR",
        "status": "succeeded",
        "metadata": {"order_id": order["id"], "refund_id": refund["id"]},
    }

    queued, reverse_transfer = reversal_recorder()
    await settle(client, reverse_transfer)

    assert await order_status(client, order["id"]) == "refunded"
    assert await refunds(client) == [
        {"status": "succeeded", "amount_cents": 3999, "currency": "EUR", "requested_by": buyer_id, "sent": True,
         "settled": True}
    ]  # fmt: skip
    assert (
        await client.app[DB].fetch_val("SELECT outcome FROM webhook_events WHERE event_type = 'refund_succeeded'")
        == "applied: refund succeeded, order refunded (was pending)"
    )
    licenses = await client.app[DB].fetch_all(
        "SELECT status, revoked_at IS NOT NULL AS revoked FROM licenses WHERE order_id = %s", (order["id"],)
    )
    assert licenses == [{"status": "revoked", "revoked": True}] * 2
    assert await client.app[DB].fetch_all("SELECT sales_count FROM products") == [{"sales_count": 0}] * 2
    assert await transfers(client, order["id"]) == {seller_ids[0]: "reversal_pending", seller_ids[1]: "cancelled"}
    assert queued == [str(sent)]
    assert (await client.get(download, headers=buyer["headers"])).status == 404
    assert await notification_types(client) == sorted(
        [
            (buyer_id, "order.completed"),
            (buyer_id, "refund.succeeded"),
            *((seller_id, "sale.completed") for seller_id in seller_ids),
            *((seller_id, "sale.refunded") for seller_id in seller_ids),
        ]
    )
    live = await ws_receive(ws, type_="event")
    assert (live["event"], live["data"]["type"]) == ("notification.created", "refund.succeeded")
    assert live["data"]["data"] == {"order_id": order["id"], "refund_id": refund["id"]}
    await ws.close()


async def test_a_seller_of_an_item_may_request_it(client, order):
    seller = order["sellers"][1]
    assert (await request(client, seller, order["id"])).status == 200
    await settle(client, reversal_recorder()[1])
    assert await order_status(client, order["id"]) == "refunded"
    assert [r["requested_by"] for r in await refunds(client)] == [seller["user"]["id"]]


async def test_others_unknown_orders_and_bad_ids_are_404(client, order):
    stranger = await make_user(client)
    for user, order_id in (
        (stranger, order["id"]),
        (order["buyer"], str(uuid.uuid4())),
        (order["buyer"], "not-a-uuid"),
        (order["buyer"], "1"),
    ):
        resp = await request(client, user, order_id)
        assert resp.status == 404, order_id
        assert (await resp.json())["success"] is False
    assert (await client.post(url(order["id"]), json=REASON)).status == 401
    assert await count(client, "refunds") == 0
    assert await count(client, "sandbox_refunds") == 0
    assert await order_status(client, order["id"]) == "completed"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reason": ""},
        {"reason": "   "},
        {"reason": "x" * 501},
        {"reason": 5},
        {"reason": None},
        {"reason": "ok", "details": "x" * 2001},
        {"reason": "ok", "details": 3},
        {"reason": "ok", "amount_cents": 1},
        {"reason": "a\u0000b"},
        [],
    ],
)
async def test_invalid_bodies_are_refused_and_write_nothing(client, order, body):
    resp = await request(client, order["buyer"], order["id"], body)
    assert resp.status == (400 if body == [] else 422), await resp.text()
    assert (await resp.json())["success"] is False
    assert await count(client, "refunds") == 0
    assert await order_status(client, order["id"]) == "completed"


async def test_the_longest_reason_and_details_are_taken(client, order):
    body = {"reason": "r" * 500, "details": "d" * 2000}
    assert (await request(client, order["buyer"], order["id"], body)).status == 200
    assert await client.app[DB].fetch_one("SELECT reason, details FROM refunds") == body


async def test_refunds_close_fourteen_days_after_payment(client, order):
    db = client.app[DB]
    await db.execute("UPDATE orders SET paid_at = now() - interval '15 days' WHERE id = %s", (order["id"],))
    resp = await request(client, order["buyer"], order["id"])
    assert resp.status == 409
    answer = await resp.json()
    assert answer["code"] == "refund_window_closed"
    assert answer["error"].startswith("Refunds may be requested within 14 days of payment; this order was paid on ")
    assert await count(client, "refunds") == 0
    assert await order_status(client, order["id"]) == "completed"

    await db.execute("UPDATE orders SET paid_at = now() - interval '13 days 23 hours' WHERE id = %s", (order["id"],))
    assert (await request(client, order["buyer"], order["id"])).status == 200


async def test_only_a_completed_order_can_be_refunded(client):
    seller, buyer = await make_user(client), await make_user(client)
    created = await checkout(client, buyer, await make_product(client, seller))
    order_id = created["order"]["id"]
    for status in ("pending", "failed"):
        await client.app[DB].execute("UPDATE orders SET status = %s WHERE id = %s", (status, order_id))
        resp = await request(client, buyer, order_id)
        assert resp.status == 409
        assert await resp.json() == {
            "success": False,
            "error": f"Only a paid order can be refunded; this one is {status}",
            "code": "order_not_paid",
            "details": [],
            "request_id": resp.headers["X-Request-ID"],
        }
    assert await count(client, "refunds") == 0


async def test_a_second_request_is_409(client, order):
    assert (await request(client, order["buyer"], order["id"])).status == 200
    for settled in (False, True):
        if settled:
            await settle(client, reversal_recorder()[1])
            assert await order_status(client, order["id"]) == "refunded"
        for user in (order["buyer"], order["sellers"][0]):
            resp = await request(client, user, order["id"])
            assert resp.status == 409
            answer = await resp.json()
            assert (answer["code"], answer["error"]) == (
                "already_refunded",
                "This order is already refunded or a refund was requested",
            )
    assert await count(client, "refunds") == 1
    assert await count(client, "sandbox_refunds") == 1


async def test_concurrent_requests_make_one_refund(client, order):
    users = [order["buyer"], *order["sellers"]] * 7
    answers = await asyncio.gather(*(request(client, user, order["id"]) for user in users))
    assert sorted(resp.status for resp in answers) == [200] + [409] * 20
    assert await count(client, "refunds") == 1
    assert await count(client, "sandbox_refunds") == 1
    assert await count(client, "sandbox_events WHERE event_type = 'refund_succeeded'") == 1


async def test_a_failed_refund_completes_the_order_again_and_a_new_request_is_allowed(client, order):
    gateway = client.app[PAYMENT_GATEWAY]
    gateway.fail_refunds = True
    assert (await request(client, order["buyer"], order["id"])).status == 200
    assert await client.app[DB].fetch_val("SELECT event_type FROM sandbox_events WHERE event_type LIKE 'refund%%'") == (
        "refund_failed"
    )
    await settle(client)
    assert await order_status(client, order["id"]) == "completed"
    assert [r["status"] for r in await refunds(client)] == ["failed"]
    assert await count(client, "licenses WHERE status = 'active'") == 2
    assert set((await transfers(client, order["id"])).values()) == {"pending"}
    buyer_id = order["buyer"]["user"]["id"]
    assert (buyer_id, "refund.failed") in await notification_types(client)
    assert await count(client, "notifications WHERE type = 'refund.failed'") == 3

    gateway.fail_refunds = False
    assert (await request(client, order["buyer"], order["id"])).status == 200
    await settle(client, reversal_recorder()[1])
    assert await order_status(client, order["id"]) == "refunded"
    assert [r["status"] for r in await refunds(client)] == ["failed", "succeeded"]
    assert await count(client, "licenses WHERE status = 'revoked'") == 2


async def test_with_the_gateway_down_the_refund_waits_for_the_sweep_and_is_made_once(client, order):
    gateway = client.app[PAYMENT_GATEWAY]
    gateway.unavailable = True
    resp = await request(client, order["buyer"], order["id"])
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "5"
    assert (await resp.json())["error"] == (
        "The payment service is unavailable: the refund is recorded and will be sent to it again shortly"
    )
    assert [(r["status"], r["sent"]) for r in await refunds(client)] == [("pending", False)]
    assert await order_status(client, order["id"]) == "refund_pending"
    assert (await request(client, order["buyer"], order["id"])).status == 409  # it is on its way

    ctx = {"app": client.app}
    assert await resend_refunds(ctx) == 0  # younger than a minute: the request may still be asking
    await client.app[DB].execute("UPDATE refunds SET created_at = now() - interval '2 minutes'")
    assert await resend_refunds(ctx) == 0  # still down
    assert await count(client, "sandbox_refunds") == 0

    gateway.unavailable = False
    # The gateway had in fact made it (the answer was lost): asking again with the refund's id as
    # idempotency key gets that refund back, never a second one.
    refund_id = await client.app[DB].fetch_val("SELECT id::text FROM refunds")
    payment_id = await client.app[DB].fetch_val("SELECT payment_id FROM orders WHERE id = %s", (order["id"],))
    made = await gateway.create_refund(
        payment_id=payment_id, amount=3999, idempotency_key=refund_id, reason="Not as described", metadata={}
    )
    assert await resend_refunds(ctx) == 1
    assert await resend_refunds(ctx) == 0
    assert await client.app[DB].fetch_val("SELECT gateway_refund_id FROM refunds") == made.refund_id
    assert await count(client, "sandbox_refunds") == 1
    assert await count(client, "sandbox_events WHERE event_type = 'refund_succeeded'") == 1
    await settle(client, reversal_recorder()[1])
    assert await order_status(client, order["id"]) == "refunded"


async def test_a_refund_the_gateway_refuses_fails_at_once(client, order):
    await client.app[DB].execute("UPDATE sandbox_payments SET status = 'failed'")  # nothing to refund there
    resp = await request(client, order["buyer"], order["id"])
    assert resp.status == 502
    assert (await resp.json())["code"] == "payment_refused"
    assert [(r["status"], r["settled"]) for r in await refunds(client)] == [("failed", True)]
    assert await order_status(client, order["id"]) == "completed"
    assert await count(client, "notifications WHERE type = 'refund.failed'") == 3


async def test_an_idempotency_key_replays_the_answer(client, order):
    key = {"Idempotency-Key": "refund-1"}
    first = await request(client, order["buyer"], order["id"], headers=key)
    again = await request(client, order["buyer"], order["id"], headers=key)
    assert (first.status, again.status) == (200, 200)
    assert await again.json() == await first.json() == {"success": True, "data": {"message": "Refund initiated"}}
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await request(client, order["buyer"], order["id"], {"reason": "Changed my mind"}, headers=key)
    assert other.status == 409
    assert (await other.json())["code"] == "idempotency_key_reused"
    assert await count(client, "refunds") == 1
