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
    """Run the real WorkerSettings (plus test jobs) in burst mode until the queue is empty.

    Its cron jobs are not scheduled: one falling due while the burst runs would do work the test did not
    ask for (deliver what a test means to leave undelivered, count among the jobs). They stay jobs that a
    test enqueues by name."""
    from arq.worker import Worker, func

    from veza.redis import arq_settings
    from workers.settings import WorkerSettings

    options = {k: v for k, v in vars(WorkerSettings).items() if not k.startswith("_")}
    crons_by_name = [
        func(c.coroutine, name=c.name, timeout=c.timeout_s, keep_result=c.keep_result_s, max_tries=c.max_tries)
        for c in WorkerSettings.cron_jobs
    ]
    options["functions"] = [*WorkerSettings.functions, *crons_by_name, *extra_functions]
    options["cron_jobs"] = []
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


async def checkout(client, buyer: dict[str, Any], *products: dict[str, Any], quantity: int = 1) -> dict[str, Any]:
    """POST /marketplace/orders for one of each product (`quantity` of each); the answer's data."""
    body = {"items": [{"product_id": p["id"], "quantity": quantity} for p in products], "payment_method": "card"}
    resp = await client.post("/api/v1/marketplace/orders", json=body, headers=buyer["headers"])
    assert resp.status == 201, await resp.text()
    return (await resp.json())["data"]


async def confirm_payment(client, buyer: dict[str, Any], payment_id: str, outcome: str = "succeeded") -> str:
    """Confirm a sandbox payment as its buyer; the id of the webhook event the sandbox now owes."""
    resp = await client.post(
        f"/api/v1/payments/sandbox/{payment_id}/confirm", json={"outcome": outcome}, headers=buyer["headers"]
    )
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]["event_id"]


async def paid_order(client, buyer: dict[str, Any], *products: dict[str, Any]) -> dict[str, Any]:
    """A completed order of `buyer` holding one of each product, made through the real checkout: the
    order is created over the API, its sandbox payment confirmed, and the sandbox's signed webhook
    delivered to this test server, which completes it (licenses, seller transfers, invoice number).
    Returns {"id", "items"}."""
    from veza.payments import sandbox

    created = await checkout(client, buyer, *products)
    event_id = await confirm_payment(client, buyer, created["payment"]["payment_id"])
    assert await sandbox.deliver_event(client.app, event_id, str(client.make_url(sandbox.WEBHOOK_PATH)))
    order_id = created["order"]["id"]
    status = await client.app[DB].fetch_val("SELECT status FROM orders WHERE id = %s", (order_id,))
    assert status == "completed", status
    items = await client.app[DB].fetch_all(
        "SELECT id, product_id, seller_id, title, unit_price_cents, quantity, currency FROM order_items "
        "WHERE order_id = %s",
        (order_id,),
    )
    ids = [str(product["id"]) for product in products]
    return {"id": order_id, "items": sorted(items, key=lambda item: ids.index(str(item["product_id"])))}


async def connected_seller(client, seller: dict[str, Any] | None = None) -> dict[str, Any]:
    """A seller (`seller`, or a new user) whose sandbox Connect account has completed onboarding and is
    recorded as connected, as onboarding leaves it; the user plus its "account_id"."""
    from veza.keys import CONNECT_GATEWAY

    seller = seller or await make_user(client)
    user_id = seller["user"]["id"]
    gateway = client.app[CONNECT_GATEWAY]
    account = await gateway.create_account(email=seller["user"]["email"], idempotency_key=f"account-{user_id}")
    await gateway.complete_onboarding(account.account_id)
    await client.app[DB].execute(
        """
        INSERT INTO connect_accounts (user_id, gateway, account_id, connected, connected_at)
        VALUES (%s, %s, %s, true, now())
        """,
        (user_id, gateway.name, account.account_id),
    )
    return {**seller, "account_id": account.account_id}
