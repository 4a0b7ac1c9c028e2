"""The sandbox gateway: confirmation by the buyer, its signed webhook delivered by a job, retried, swept."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from arq.constants import default_queue_name, job_key_prefix

from tests.factories import checkout, confirm_payment, make_product, make_user, run_burst_worker
from tests.payments.helpers import count, worker_settings
from veza.app import create_app
from veza.keys import ARQ, DB
from veza.payments.sandbox import WEBHOOK_PATH, delivery_job_id
from veza.payments.signing import valid_signature
from workers.payments import sweep_sandbox_events


@pytest.fixture
async def order(client):
    seller = await make_user(client)
    buyer = await make_user(client)
    product = await make_product(client, seller, price_cents=2999)
    created = await checkout(client, buyer, product)
    return {
        "id": created["order"]["id"],
        "payment_id": created["payment"]["payment_id"],
        "buyer": buyer,
        "seller": seller,
    }


def confirm_url(payment_id: str) -> str:
    return f"/api/v1/payments/sandbox/{payment_id}/confirm"


async def order_status(client, order_id: str) -> str:
    return await client.app[DB].fetch_val("SELECT status FROM orders WHERE id = %s", (order_id,))


async def test_only_the_buyer_may_confirm(client, order):
    for headers in (order["seller"]["headers"], (await make_user(client))["headers"]):
        resp = await client.post(confirm_url(order["payment_id"]), json={"outcome": "succeeded"}, headers=headers)
        assert resp.status == 404
    resp = await client.post(confirm_url(order["payment_id"]), json={"outcome": "succeeded"})
    assert resp.status == 401
    resp = await client.post(
        confirm_url("pay_nosuch"), json={"outcome": "succeeded"}, headers=order["buyer"]["headers"]
    )
    assert resp.status == 404
    resp = await client.post(
        confirm_url(order["payment_id"]), json={"outcome": "maybe"}, headers=order["buyer"]["headers"]
    )
    assert resp.status == 422
    assert await count(client, "sandbox_events") == 0
    assert await client.app[DB].fetch_val("SELECT status FROM sandbox_payments") == "requires_payment_method"


async def test_a_settled_payment_cannot_be_confirmed_again(client, order):
    await confirm_payment(client, order["buyer"], order["payment_id"], "failed")
    for outcome in ("succeeded", "failed"):
        resp = await client.post(
            confirm_url(order["payment_id"]), json={"outcome": outcome}, headers=order["buyer"]["headers"]
        )
        assert resp.status == 409
        assert (await resp.json())["code"] == "payment_settled"
    assert await count(client, "sandbox_events") == 1
    assert await client.app[DB].fetch_val("SELECT status FROM sandbox_payments") == "failed"


async def test_confirm_is_404_in_production(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    seller, buyer = await make_user(client), await make_user(client)
    created = await checkout(client, buyer, await make_product(client, seller))
    production = await aiohttp_client(create_app(settings.model_copy(update={"env": "production"})))
    resp = await production.post(
        confirm_url(created["payment"]["payment_id"]), json={"outcome": "succeeded"}, headers=buyer["headers"]
    )
    assert resp.status == 404
    assert await count(client, "sandbox_events") == 0


async def test_a_failed_payment_fails_the_order(client, order):
    await confirm_payment(client, order["buyer"], order["payment_id"], "failed")
    await run_burst_worker(worker_settings(client))
    assert await order_status(client, order["id"]) == "failed"
    assert await client.app[DB].fetch_val("SELECT type FROM notifications") == "order.failed"


async def test_delivery_retries_while_the_app_answers_non_2xx_and_stops_once_delivered(client, order, aiohttp_server):
    """A proxy in front of the app answers 503 twice, then passes the webhook on."""
    seen: list[tuple[str, bool]] = []

    async def flaky(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append((request.path, valid_signature(secret, body, request.headers.get("X-Webhook-Signature-512"))))
        if len(seen) <= 2:
            return web.Response(status=503)
        headers = {name: request.headers[name] for name in ("Content-Type", "X-Webhook-Signature-512")}
        async with (
            aiohttp.ClientSession() as http,
            http.post(client.make_url(WEBHOOK_PATH), data=body, headers=headers) as resp,
        ):
            return web.Response(status=resp.status, body=await resp.read())

    proxy = web.Application()
    proxy.router.add_post(WEBHOOK_PATH, flaky)
    server = await aiohttp_server(proxy)
    settings = worker_settings(client).model_copy(
        update={"public_url": str(server.make_url("/")).rstrip("/"), "sandbox_webhook_retry_seconds": 0.01}
    )
    secret = settings.hyperswitch_webhook_secret

    event_id = await confirm_payment(client, order["buyer"], order["payment_id"])
    await run_burst_worker(settings)
    assert seen == [(WEBHOOK_PATH, True)] * 3
    event = await client.app[DB].fetch_one("SELECT attempts, delivered_at FROM sandbox_events")
    assert event["attempts"] == 3 and event["delivered_at"] is not None
    assert await order_status(client, order["id"]) == "completed"
    assert await count(client, "webhook_events") == 1

    # delivered: neither the sweep nor another worker run sends it again
    assert await sweep_sandbox_events({"app": client.app}) == 0
    await run_burst_worker(settings)
    assert len(seen) == 3
    result = await client.app[ARQ].all_job_results()
    assert [(r.job_id, r.success, r.job_try) for r in result if r.job_id == delivery_job_id(event_id)] == [
        (delivery_job_id(event_id), True, 3)
    ]


async def test_an_event_whose_enqueue_was_lost_is_swept_and_delivered_once(client, order):
    """The worker killed between the confirm's COMMIT and its enqueue: the queue never got the job."""
    event_id = await confirm_payment(client, order["buyer"], order["payment_id"])
    arq = client.app[ARQ]
    job_id = delivery_job_id(event_id)
    assert await arq.zrem(default_queue_name, job_id) == 1
    await arq.delete(job_key_prefix + job_id)
    settings = worker_settings(client)
    await run_burst_worker(settings)
    assert await order_status(client, order["id"]) == "pending"  # nothing delivered it

    assert await sweep_sandbox_events({"app": client.app}) == 1
    assert await sweep_sandbox_events({"app": client.app}) == 1  # queued once: the job id is the event's
    assert await arq.zcard(default_queue_name) == 1
    await run_burst_worker(settings)
    event = await client.app[DB].fetch_one("SELECT attempts, delivered_at FROM sandbox_events")
    assert event["attempts"] == 1 and event["delivered_at"] is not None
    assert await order_status(client, order["id"]) == "completed"
    assert await count(client, "webhook_events") == 1
    assert await sweep_sandbox_events({"app": client.app}) == 0


async def test_payment_ids_no_gateway_makes_are_404(client, order):
    for payment_id in ("pay%00x", "p" * 256, "%ED%A0%80"):
        resp = await client.post(confirm_url(payment_id), json={"outcome": "failed"}, headers=order["buyer"]["headers"])
        assert resp.status == 404, payment_id
