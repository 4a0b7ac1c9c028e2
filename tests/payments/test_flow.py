"""The whole checkout on the sandbox: order, confirm, the delivery job's signed webhook, completion."""

from __future__ import annotations

from arq.jobs import Job

from tests.factories import (
    confirm_payment,
    make_product,
    make_user,
    run_burst_worker,
    ws_receive,
    ws_subscribe,
)
from tests.payments.helpers import count, worker_settings
from veza.constants import RENDER_INVOICE_JOB
from veza.keys import ARQ, DB
from veza.payments.sandbox import delivery_job_id


async def test_order_confirm_deliver_complete(client):
    seller_a = await make_user(client)
    seller_b = await make_user(client)
    buyer = await make_user(client)
    beat = await make_product(client, seller_a, title="Beat", price_cents=2999)
    pack = await make_product(client, seller_a, title="Pack", price_cents=1000)
    preset = await make_product(client, seller_b, title="Preset", price_cents=505, kind="preset")

    resp = await client.post(
        "/api/v1/marketplace/orders",
        json={
            "items": [
                {"product_id": beat["id"], "quantity": 1},
                {"product_id": pack["id"], "quantity": 2},
                {"product_id": preset["id"], "quantity": 1},
            ],
            "payment_method": "card",
        },
        headers=buyer["headers"],
    )
    assert resp.status == 201, await resp.text()
    created = (await resp.json())["data"]
    order = created["order"]
    assert order["status"] == "pending"
    assert order["total_cents"] == 2999 + 2 * 1000 + 505
    assert order["currency"] == "EUR"
    assert [(i["title"], i["unit_price_cents"], i["quantity"]) for i in order["items"]] == [
        ("Beat", 2999, 1),
        ("Pack", 1000, 2),
        ("Preset", 505, 1),
    ]
    payment_id = created["payment"]["payment_id"]
    assert created["payment"]["client_secret"].startswith(f"{payment_id}_secret_")
    sandbox_payment = await client.app[DB].fetch_one(
        "SELECT amount, currency, idempotency_key, metadata, status FROM sandbox_payments WHERE id = %s", (payment_id,)
    )
    assert sandbox_payment == {
        "amount": 5504,
        "currency": "EUR",
        "idempotency_key": order["id"],
        "metadata": {"order_id": order["id"], "buyer_id": buyer["user"]["id"]},
        "status": "requires_payment_method",
    }

    ws_buyer = await client.ws_connect(f"/api/v1/ws?token={buyer['access_token']}")
    await ws_subscribe(ws_buyer, "notifications")
    ws_seller = await client.ws_connect(f"/api/v1/ws?token={seller_b['access_token']}")
    await ws_subscribe(ws_seller, "notifications")

    event_id = await confirm_payment(client, buyer, payment_id)
    # the payment settled and its webhook is owed, not yet delivered
    assert await client.app[DB].fetch_one(
        "SELECT event_type, attempts, delivered_at FROM sandbox_events WHERE event_id = %s", (event_id,)
    ) == {"event_type": "payment_succeeded", "attempts": 0, "delivered_at": None}
    assert (await client.get(f"/api/v1/marketplace/orders/{order['id']}", headers=buyer["headers"])).status == 200

    await run_burst_worker(worker_settings(client))
    delivery = await Job(delivery_job_id(event_id), client.app[ARQ]).result_info()
    assert (delivery.success, delivery.result, delivery.job_try) == (True, True, 1)
    event = await client.app[DB].fetch_one(
        "SELECT attempts, delivered_at FROM sandbox_events WHERE event_id = %s", (event_id,)
    )
    assert event["attempts"] == 1 and event["delivered_at"] is not None

    resp = await client.get(f"/api/v1/marketplace/orders/{order['id']}", headers=buyer["headers"])
    got = (await resp.json())["data"]
    assert got["status"] == "completed" and got["paid_at"] is not None
    db = client.app[DB]
    assert await db.fetch_val("SELECT outcome FROM webhook_events WHERE event_id = %s", (event_id,)) == (
        "applied: order completed (was pending)"
    )
    licenses = await db.fetch_all(
        "SELECT product_id::text, status FROM licenses WHERE buyer_id = %s ORDER BY 1", (buyer["user"]["id"],)
    )
    assert licenses == sorted(
        [{"product_id": p["id"], "status": "active"} for p in (beat, pack, preset)], key=lambda r: r["product_id"]
    )
    transfers = await db.fetch_all(
        "SELECT seller_id::text, amount_cents, platform_fee_cents, currency, status FROM seller_transfers "
        "WHERE order_id = %s",
        (order["id"],),
    )
    assert sorted(transfers, key=lambda t: t["amount_cents"]) == [
        # 505 -> fee 50.5 rounds half up to 51
        {
            "seller_id": seller_b["user"]["id"],
            "amount_cents": 454,
            "platform_fee_cents": 51,
            "currency": "EUR",
            "status": "pending",
        },
        # 2999 + 2000 = 4999 -> fee 499.9 -> 500
        {
            "seller_id": seller_a["user"]["id"],
            "amount_cents": 4499,
            "platform_fee_cents": 500,
            "currency": "EUR",
            "status": "pending",
        },
    ]
    sales = await db.fetch_all("SELECT title, sales_count FROM products ORDER BY title")
    assert sales == [
        {"title": "Beat", "sales_count": 1},
        {"title": "Pack", "sales_count": 2},
        {"title": "Preset", "sales_count": 1},
    ]
    assert await count(client, "invoices WHERE order_id = %s AND number >= 1", order["id"]) == 1
    # the invoice PDF was queued under its deterministic id (the worker ran it, known to it or not)
    invoice_job = await Job(f"invoice:{order['id']}", client.app[ARQ]).info()
    assert (invoice_job.function, invoice_job.args) == (RENDER_INVOICE_JOB, (order["id"],))

    notes = await db.fetch_all("SELECT user_id::text, type FROM notifications ORDER BY type, user_id")
    assert sorted((n["user_id"], n["type"]) for n in notes) == sorted(
        [
            (buyer["user"]["id"], "order.completed"),
            (seller_a["user"]["id"], "sale.completed"),
            (seller_b["user"]["id"], "sale.completed"),
        ]
    )
    live = await ws_receive(ws_buyer, type_="event")
    assert (live["channel"], live["event"], live["data"]["data"]) == (
        "notifications",
        "notification.created",
        {"order_id": order["id"]},
    )
    live = await ws_receive(ws_seller, type_="event")
    assert live["data"]["type"] == "sale.completed" and live["data"]["data"]["amount_cents"] == 454
    await ws_buyer.close()
    await ws_seller.close()
