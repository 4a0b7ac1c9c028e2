"""The Idempotency-Key of POST /marketplace/orders: replay, reuse with another body, concurrency, expiry."""

from __future__ import annotations

import asyncio

import pytest

from tests.factories import make_product, make_user
from tests.payments.helpers import count
from veza.keys import DB
from workers.payments import sweep_checkout

ORDERS = "/api/v1/marketplace/orders"


@pytest.fixture
async def shop(client):
    seller = await make_user(client)
    return {
        "buyer": await make_user(client),
        "beat": await make_product(client, seller, price_cents=2999),
        "loop": await make_product(client, seller, price_cents=1500),
    }


def cart(*products, quantity=1):
    return {"items": [{"product_id": p["id"], "quantity": quantity} for p in products], "payment_method": "card"}


async def test_the_same_key_and_body_replay_the_first_answer(client, shop):
    headers = {**shop["buyer"]["headers"], "Idempotency-Key": "order-1"}
    first = await client.post(ORDERS, json=cart(shop["beat"]), headers=headers)
    assert first.status == 201
    assert "Idempotent-Replayed" not in first.headers
    # the same request, keys in another order
    body = {"payment_method": "card", "items": [{"quantity": 1, "product_id": shop["beat"]["id"]}]}
    again = await client.post(ORDERS, json=body, headers=headers)
    assert again.status == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == await first.json()
    assert await count(client, "orders") == 1
    assert await count(client, "sandbox_payments") == 1


async def test_the_same_key_with_another_body_is_409(client, shop):
    headers = {**shop["buyer"]["headers"], "Idempotency-Key": "order-1"}
    assert (await client.post(ORDERS, json=cart(shop["beat"]), headers=headers)).status == 201
    for body in (cart(shop["loop"]), cart(shop["beat"], quantity=2)):
        resp = await client.post(ORDERS, json=body, headers=headers)
        assert resp.status == 409
        assert (await resp.json())["code"] == "idempotency_key_reused"
    assert await count(client, "orders") == 1


async def test_keys_are_per_user(client, shop):
    other = await make_user(client)
    for user in (shop["buyer"], other):
        resp = await client.post(ORDERS, json=cart(shop["beat"]), headers={**user["headers"], "Idempotency-Key": "k"})
        assert resp.status == 201
    assert await count(client, "orders") == 2


async def test_concurrent_requests_with_one_key_make_one_order(client, shop):
    headers = {**shop["buyer"]["headers"], "Idempotency-Key": "double-click"}
    answers = await asyncio.gather(*(client.post(ORDERS, json=cart(shop["beat"]), headers=headers) for _ in range(10)))
    statuses = sorted(resp.status for resp in answers)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    for resp in answers:
        if resp.status == 409:
            assert (await resp.json())["code"] == "idempotency_in_progress"
            assert resp.headers["Retry-After"] == "1"
    bodies = [await resp.json() for resp in answers if resp.status == 201]
    assert all(body == bodies[0] for body in bodies)
    assert await count(client, "orders") == 1
    assert await count(client, "sandbox_payments") == 1


async def test_without_a_key_each_request_is_an_order(client, shop):
    for _ in range(2):
        assert (await client.post(ORDERS, json=cart(shop["beat"]), headers=shop["buyer"]["headers"])).status == 201
    assert await count(client, "orders") == 2


async def test_keys_expire_after_24_hours_and_the_sweep_purges_them(client, shop):
    headers = {**shop["buyer"]["headers"], "Idempotency-Key": "old"}
    assert (await client.post(ORDERS, json=cart(shop["beat"]), headers=headers)).status == 201
    await client.app[DB].execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    # an expired key is free again, even with another body
    assert (await client.post(ORDERS, json=cart(shop["loop"]), headers=headers)).status == 201
    assert await count(client, "orders") == 2
    await client.app[DB].execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    assert await sweep_checkout({"app": client.app}) == {"idempotency_keys_purged": 1, "orders_failed": 0}
    assert await count(client, "idempotency_keys") == 0


async def test_a_claim_left_by_a_dead_process_is_taken_over(client, shop):
    """A request that died mid-way left its key without an answer: after 2 minutes another may run."""
    headers = {**shop["buyer"]["headers"], "Idempotency-Key": "orphan"}
    await client.app[DB].execute(
        "INSERT INTO idempotency_keys (user_id, scope, key, request_hash, created_at) "
        "VALUES (%s, 'orders.create', 'orphan', 'x', now() - interval '3 minutes')",
        (shop["buyer"]["user"]["id"],),
    )
    assert (await client.post(ORDERS, json=cart(shop["beat"]), headers=headers)).status == 201
    await client.app[DB].execute("UPDATE idempotency_keys SET status_code = NULL, created_at = now()")
    resp = await client.post(ORDERS, json=cart(shop["beat"]), headers=headers)
    assert resp.status == 409 and (await resp.json())["code"] == "idempotency_in_progress"


async def test_the_sweep_fails_orders_left_without_a_payment(client, shop):
    resp = await client.post(ORDERS, json=cart(shop["beat"]), headers=shop["buyer"]["headers"])
    paid_id = (await resp.json())["data"]["order"]["id"]
    # a process that died between the order's commit and the gateway's answer
    orphan = await client.app[DB].fetch_val(
        "INSERT INTO orders (buyer_id, total_cents, currency, payment_method, gateway, created_at) "
        "VALUES (%s, 2999, 'EUR', 'card', 'sandbox', now() - interval '10 minutes') RETURNING id::text",
        (shop["buyer"]["user"]["id"],),
    )
    assert await sweep_checkout({"app": client.app}) == {"idempotency_keys_purged": 0, "orders_failed": 1}
    rows = await client.app[DB].fetch_all("SELECT id::text, status FROM orders ORDER BY status")
    assert rows == [{"id": orphan, "status": "failed"}, {"id": paid_id, "status": "pending"}]
