"""Payouts end to end on the sandbox, through the API and the worker only: an order paid for two sellers'
products pays each their share; a refund of the order takes both transfers back."""

from __future__ import annotations

from tests.factories import connected_seller, make_product, make_user, paid_order, run_burst_worker
from tests.payments.helpers import worker_settings
from veza.keys import DB


async def transfers(db, order_id: str) -> list[tuple]:
    return [
        (row["status"], row["amount_cents"], row["platform_fee_cents"])
        for row in await db.fetch_all(
            "SELECT * FROM seller_transfers WHERE order_id = %s ORDER BY amount_cents DESC", (order_id,)
        )
    ]


async def test_two_sellers_are_paid_their_shares_and_a_refund_takes_both_back(client):
    db = client.app[DB]
    alice, bob = await connected_seller(client), await connected_seller(client)
    buyer = await make_user(client)
    products = [await make_product(client, alice, price_cents=2999), await make_product(client, bob, price_cents=1505)]
    order = await paid_order(client, buyer, *products)
    await run_burst_worker(worker_settings(client))  # the transfers queued when the order completed
    assert await transfers(db, order["id"]) == [("completed", 2699, 300), ("completed", 1354, 151)]
    for seller, share in ((alice, 2699), (bob, 1354)):
        resp = await client.get("/api/v1/sell/balance", headers=seller["headers"])
        assert (await resp.json())["data"] == {"connected": True, "available": 0, "pending": share}

    resp = await client.post(
        f"/api/v1/marketplace/orders/{order['id']}/refund",
        json={"reason": "Not as described"},
        headers=buyer["headers"],
    )
    assert (resp.status, (await resp.json())["data"]) == (200, {"message": "Refund initiated"})
    # the sandbox's refund_succeeded webhook, then the two reversals its settlement queued (one burst runs
    # until the queue is empty, jobs queued meanwhile included)
    await run_burst_worker(worker_settings(client))

    assert await transfers(db, order["id"]) == [("reversed", 2699, 300), ("reversed", 1354, 151)]
    resp = await client.get(f"/api/v1/marketplace/orders/{order['id']}", headers=buyer["headers"])
    assert (await resp.json())["data"]["status"] == "refunded"
    assert await db.fetch_val("SELECT count(*) FROM sandbox_transfer_reversals") == 2
    for seller in (alice, bob):
        resp = await client.get("/api/v1/sell/balance", headers=seller["headers"])
        assert (await resp.json())["data"] == {"connected": True, "available": 0, "pending": 0}
