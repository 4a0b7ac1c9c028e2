"""POST /marketplace/orders (validation, the gateway's outage) and GET /marketplace/orders[/{id}]."""

from __future__ import annotations

import pytest

from tests.factories import checkout, make_product, make_user, paid_order
from tests.payments.helpers import count
from veza.keys import DB, PAYMENT_GATEWAY
from veza.payments.sandbox import SandboxGateway

ORDERS = "/api/v1/marketplace/orders"
WRITTEN = ("orders", "order_items", "sandbox_payments", "idempotency_keys")


async def written(client) -> dict[str, int]:
    return {table: await count(client, table) for table in WRITTEN}


NOTHING = dict.fromkeys(WRITTEN, 0)


@pytest.fixture
async def shop(client):
    seller = await make_user(client)
    other_seller = await make_user(client)
    buyer = await make_user(client)
    archived = await make_product(client, seller, title="Old")
    resp = await client.delete(f"/api/v1/marketplace/products/{archived['id']}", headers=seller["headers"])
    assert resp.status == 200
    return {
        "seller": seller,
        "buyer": buyer,
        "beat": await make_product(client, seller, title="Beat", price_cents=2999),
        "loop": await make_product(client, other_seller, title="Loop", price_cents=1500),
        "dollar": await make_product(client, other_seller, title="Dollar", price_cents=500, currency="USD"),
        "archived": archived,
        "own": await make_product(client, buyer, title="Mine"),
    }


def items(*lines):
    return {"items": [{"product_id": pid, "quantity": qty} for pid, qty in lines], "payment_method": "card"}


CASES = {
    "empty cart": (lambda s: items(), 422, "items"),
    "quantity 0": (lambda s: items((s["beat"]["id"], 0)), 422, "items.0.quantity"),
    "quantity 11": (lambda s: items((s["beat"]["id"], 11)), 422, "items.0.quantity"),
    "quantity as text": (lambda s: items((s["beat"]["id"], "2")), 422, "items.0.quantity"),
    "duplicate product": (lambda s: items((s["beat"]["id"], 1), (s["beat"]["id"], 2)), 422, "body"),
    "unknown product": (lambda s: items((s["beat"]["id"], 1), ("6f1c1a52-0000-4000-8000-000000000000", 1)), 422,
                        "items.1.product_id"),
    "archived product": (lambda s: items((s["archived"]["id"], 1)), 422, "items.0.product_id"),
    "own product": (lambda s: items((s["beat"]["id"], 1), (s["own"]["id"], 1)), 422, "items.1.product_id"),
    "mixed currencies": (lambda s: items((s["loop"]["id"], 1), (s["dollar"]["id"], 1)), 422, "items"),
    "bad product id": (lambda s: items(("nope", 1)), 422, "items.0.product_id"),
    "unknown payment method": (lambda s: {**items((s["beat"]["id"], 1)), "payment_method": "cash"}, 422,
                               "payment_method"),
    "extra field": (lambda s: {**items((s["beat"]["id"], 1)), "discount": 100}, 422, "discount"),
    "too many lines": (lambda s: items(*[(s["beat"]["id"], 1)] * 51), 422, "items"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
async def test_refused_carts_write_nothing(client, shop, case):
    make_body, expected, field = CASES[case]
    headers = {**shop["buyer"]["headers"], "Idempotency-Key": f"key-{case}"}
    resp = await client.post(ORDERS, json=make_body(shop), headers=headers)
    assert resp.status == expected, await resp.text()
    error = await resp.json()
    assert error["code"] == "validation_error"
    assert field in [detail["field"] for detail in error["details"]]
    assert await written(client) == NOTHING


async def test_malformed_or_anonymous_orders_write_nothing(client, shop):
    assert (await client.post(ORDERS, json=items((shop["beat"]["id"], 1)))).status == 401
    resp = await client.post(
        ORDERS, data=b"{", headers={**shop["buyer"]["headers"], "Content-Type": "application/json"}
    )
    assert resp.status == 400
    for key in ("", "k" * 256):
        resp = await client.post(
            ORDERS, json=items((shop["beat"]["id"], 1)), headers={**shop["buyer"]["headers"], "Idempotency-Key": key}
        )
        assert resp.status == 422, key
        assert (await resp.json())["details"][0]["field"] == "Idempotency-Key"
    assert await written(client) == NOTHING


async def test_an_order_snapshots_prices(client, shop):
    data = await checkout(client, shop["buyer"], shop["beat"], shop["loop"], quantity=3)
    order = data["order"]
    assert set(order) == {"id", "status", "items", "total_cents", "currency", "payment_method", "created_at", "paid_at",
                          "failed_at"}  # fmt: skip
    assert (order["status"], order["total_cents"], order["currency"]) == ("pending", 3 * 2999 + 3 * 1500, "EUR")
    resp = await client.patch(
        f"/api/v1/marketplace/products/{shop['beat']['id']}", json={"price_cents": 1, "title": "Renamed"},
        headers=shop["seller"]["headers"],
    )  # fmt: skip
    assert resp.status == 200
    got = (await (await client.get(f"{ORDERS}/{order['id']}", headers=shop["buyer"]["headers"])).json())["data"]
    assert [(i["title"], i["unit_price_cents"], i["quantity"], i["seller_id"]) for i in got["items"]] == [
        ("Beat", 2999, 3, shop["seller"]["user"]["id"]),
        ("Loop", 1500, 3, shop["loop"]["seller"]["id"]),
    ]


async def test_the_gateway_down_is_503_and_leaves_no_pending_order(client, shop):
    gateway = client.app[PAYMENT_GATEWAY]
    assert isinstance(gateway, SandboxGateway)
    gateway.unavailable = True
    headers = {**shop["buyer"]["headers"], "Idempotency-Key": "outage"}
    resp = await client.post(ORDERS, json=items((shop["beat"]["id"], 1)), headers=headers)
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "5"
    assert await client.app[DB].fetch_all("SELECT status, payment_id, failed_at IS NOT NULL AS failed FROM orders") == [
        {"status": "failed", "payment_id": None, "failed": True}
    ]
    assert await count(client, "idempotency_keys") == 0  # the key was given back: the client may retry with it
    gateway.unavailable = False
    resp = await client.post(ORDERS, json=items((shop["beat"]["id"], 1)), headers=headers)
    assert resp.status == 201
    assert await count(client, "orders WHERE status = 'pending' AND payment_id IS NOT NULL") == 1


async def test_orders_list_and_get_belong_to_buyer_and_sellers(client, shop):
    first = (await checkout(client, shop["buyer"], shop["beat"]))["order"]
    second = (await checkout(client, shop["buyer"], shop["loop"]))["order"]
    resp = await client.get(f"{ORDERS}?limit=1", headers=shop["buyer"]["headers"])
    assert resp.status == 200
    page = (await resp.json())["data"]
    assert ([o["id"] for o in page["orders"]], page["total"]) == ([second["id"]], 2)
    page = (await (await client.get(f"{ORDERS}?limit=1&offset=1", headers=shop["buyer"]["headers"])).json())["data"]
    assert ([o["id"] for o in page["orders"]], page["total"]) == ([first["id"]], 2)

    stranger = await make_user(client)
    assert (await client.get(f"{ORDERS}/{first['id']}", headers=stranger["headers"])).status == 404
    page = (await (await client.get(ORDERS, headers=stranger["headers"])).json())["data"]
    assert page == {"orders": [], "total": 0}
    # the seller of an item sees the order; the seller of another order's item does not
    assert (await client.get(f"{ORDERS}/{first['id']}", headers=shop["seller"]["headers"])).status == 200
    assert (await client.get(f"{ORDERS}/{second['id']}", headers=shop["seller"]["headers"])).status == 404
    assert (await client.get(f"{ORDERS}/not-a-uuid", headers=shop["buyer"]["headers"])).status == 404
    assert (await client.get(f"{ORDERS}/{first['id']}")).status == 401
    assert (await client.get(ORDERS)).status == 401
    assert (await client.get(f"{ORDERS}?limit=0", headers=shop["buyer"]["headers"])).status == 422


async def test_paid_order_goes_through_the_real_checkout(client, shop):
    order = await paid_order(client, shop["buyer"], shop["loop"], shop["beat"])
    assert [item["title"] for item in order["items"]] == ["Loop", "Beat"]
    assert {k for k in order["items"][0]} == {"id", "product_id", "seller_id", "title", "unit_price_cents", "quantity",
                                              "currency"}  # fmt: skip
    row = await client.app[DB].fetch_one("SELECT status, gateway, payment_id FROM orders WHERE id = %s", (order["id"],))
    assert row["status"] == "completed" and row["gateway"] == "sandbox"
    assert await count(client, "webhook_events WHERE outcome = 'applied: order completed (was pending)'") == 1
    assert await count(client, "licenses WHERE order_id = %s", order["id"]) == 2
    assert await count(client, "seller_transfers WHERE order_id = %s", order["id"]) == 2
