"""Factories: make users (through the real API), sign tokens, build headers."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import aiohttp

from veza.keys import DB

PASSWORD = "Correct-Horse-Battery-9"
_numbers = itertools.count(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(client, **overrides: Any) -> dict[str, Any]:
    """Register through POST /auth/register; returns the answer's data plus the password used."""
    n = next(_numbers)
    body = {"username": f"user{n}", "email": f"user{n}@example.com", "password": PASSWORD, **overrides}
    resp = await client.post("/api/v1/auth/register", json=body)
    assert resp.status == 201, await resp.text()
    data = (await resp.json())["data"]
    return {**data, "password": body["password"], "headers": bearer(data["access_token"])}


async def make_user(client, role: str = "user", **overrides: Any) -> dict[str, Any]:
    """A registered user with the given role, logged in again so that the token carries it."""
    user = await register(client, **overrides)
    if role != "user":
        await client.app[DB].execute("UPDATE users SET role = %s WHERE id = %s", (role, user["user"]["id"]))
        resp = await client.post(
            "/api/v1/auth/login", json={"email": user["user"]["email"], "password": user["password"]}
        )
        assert resp.status == 200, await resp.text()
        data = (await resp.json())["data"]
        user = {**user, **data, "headers": bearer(data["access_token"])}
    return user


async def ws_receive(ws, *, type_: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """The next JSON message on a test WebSocket (skipping others until one of `type_`)."""
    while True:
        message = await asyncio.wait_for(ws.receive_json(), timeout)
        if type_ is None or message.get("type") == type_:
            return message


async def ws_subscribe(ws, channel: str) -> None:
    await ws.send_json({"type": "subscribe", "channel": channel})
    reply = await ws_receive(ws)
    assert reply == {"type": "subscribed", "channel": channel}, reply


async def upload_file(client, user: dict[str, Any], name: str = "beat.wav", content: bytes = b"RIFF....WAVE") -> dict:
    """A cloud file of the user's, uploaded through POST /cloud/files."""
    form = aiohttp.FormData()
    form.add_field("file", content, filename=name, content_type="audio/wav")
    resp = await client.post("/api/v1/cloud/files", data=form, headers=user["headers"])
    assert resp.status == 201, await resp.text()
    return (await resp.json())["data"]


async def make_product(client, seller: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A product listed by `seller` through POST /marketplace/products."""
    asset = await upload_file(client, seller)
    body = {"title": "Night Drive", "kind": "beat", "price_cents": 2999, "asset_file_id": asset["id"], **overrides}
    resp = await client.post("/api/v1/marketplace/products", json=body, headers=seller["headers"])
    assert resp.status == 201, await resp.text()
    return (await resp.json())["data"]


async def run_burst_worker(settings, *extra_functions):
    """Run the real WorkerSettings (plus test jobs) in burst mode until the queue is empty."""
    from arq.worker import Worker

    from veza.redis import arq_settings
    from workers.settings import WorkerSettings

    options = {k: v for k, v in vars(WorkerSettings).items() if not k.startswith("_")}
    options["functions"] = [*WorkerSettings.functions, *extra_functions]
    worker = Worker(
        **options,
        redis_settings=arq_settings(settings),
        ctx={"settings": settings},
        burst=True,
        poll_delay=0,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker


async def paid_order(client, buyer: dict[str, Any], *products: dict[str, Any]) -> dict[str, Any]:
    """A completed order of `buyer` holding one of each product: items, licenses, seller transfers
    and an invoice number, as the payment webhook leaves them. Returns {"id", "items"}."""
    from veza.db import transaction
    from veza.marketplace.invoice_queries import issue_invoice

    async with transaction(client.app[DB]) as tx:
        order_id = await tx.fetch_val(
            """
            INSERT INTO orders (buyer_id, status, total_cents, currency, payment_method, gateway, payment_id, paid_at)
            VALUES (%s, 'completed', %s, %s, 'card', 'sandbox', 'pay_' || md5(random()::text), now()) RETURNING id
            """,
            (buyer["user"]["id"], sum(p["price_cents"] for p in products), products[0]["currency"]),
        )
        items = []
        for product in products:
            item = await tx.fetch_one(
                """
                INSERT INTO order_items (order_id, product_id, seller_id, title, unit_price_cents, quantity, currency)
                SELECT %s, id, seller_id, title, price_cents, 1, currency FROM products WHERE id = %s
                RETURNING id, product_id, seller_id, title, unit_price_cents, quantity, currency
                """,
                (order_id, product["id"]),
            )
            await tx.execute(
                "INSERT INTO licenses (buyer_id, product_id, order_id, order_item_id) VALUES (%s, %s, %s, %s)",
                (buyer["user"]["id"], product["id"], order_id, item["id"]),
            )
            await tx.execute("UPDATE products SET sales_count = sales_count + 1 WHERE id = %s", (product["id"],))
            items.append(item)
        await tx.execute(
            """
            INSERT INTO seller_transfers (seller_id, order_id, amount_cents, platform_fee_cents, currency)
            SELECT seller_id, order_id, sum(unit_price_cents) - round(sum(unit_price_cents) * 0.10),
                   round(sum(unit_price_cents) * 0.10), min(currency)
            FROM order_items WHERE order_id = %s GROUP BY seller_id, order_id
            """,
            (order_id,),
        )
        await issue_invoice(tx, order_id)
    return {"id": str(order_id), "items": items}
