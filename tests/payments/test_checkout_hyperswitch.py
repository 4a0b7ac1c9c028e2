"""Checkout with PAYMENT_GATEWAY=hyperswitch against the local Hyperswitch (tests/payments/fake_hyperswitch.py):
the payment request it gets, and its webhook completing the order through the same code as the sandbox's."""

from __future__ import annotations

import pytest

from tests.factories import checkout, make_product, make_user
from tests.payments.fake_hyperswitch import FakeHyperswitch
from tests.payments.helpers import count, post_webhook
from veza.app import create_app
from veza.keys import DB, PAYMENT_GATEWAY
from veza.payments.gateways import build_gateway
from veza.payments.hyperswitch import HyperswitchGateway
from veza.payments.sandbox import SandboxGateway
from veza.settings import ConfigError

API_KEY = "snd_4c1de2f3a4b5c6d7e8f9a0b1c2d3e4f5"


@pytest.fixture
async def fake(aiohttp_server):
    fake = FakeHyperswitch(API_KEY)
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("/"))
    yield fake
    fake.release()


@pytest.fixture
async def client(aiohttp_client, settings, fake):
    app = create_app(
        settings.model_copy(
            update={"payment_gateway": "hyperswitch", "hyperswitch_base_url": fake.url, "hyperswitch_api_key": API_KEY}
        )
    )
    return await aiohttp_client(app)


async def test_build_gateway_follows_the_setting(settings):
    assert isinstance(build_gateway(settings, None), SandboxGateway)
    gateway = build_gateway(
        settings.model_copy(update={"payment_gateway": "hyperswitch", "hyperswitch_api_key": "k"}), None
    )
    assert isinstance(gateway, HyperswitchGateway) and gateway.name == "hyperswitch"
    await gateway.close()
    with pytest.raises(ConfigError):
        build_gateway(settings.model_copy(update={"payment_gateway": "hyperswitch"}), None)


async def test_an_order_paid_through_hyperswitch(client, fake):
    assert isinstance(client.app[PAYMENT_GATEWAY], HyperswitchGateway)
    seller, buyer = await make_user(client), await make_user(client)
    product = await make_product(client, seller, price_cents=2999)
    created = await checkout(client, buyer, product)
    order_id, payment_id = created["order"]["id"], created["payment"]["payment_id"]
    (request,) = [r for r in fake.requests if r.path == "/payments"]
    assert request.method == "POST" and request.headers["api-key"] == API_KEY
    assert (request.json["amount"], request.json["currency"]) == (2999, "EUR")
    assert request.json["metadata"] == {"order_id": order_id, "buyer_id": buyer["user"]["id"]}
    assert created["payment"]["client_secret"] == fake.payments[payment_id]["client_secret"]
    assert await client.app[DB].fetch_val("SELECT gateway FROM orders WHERE id = %s", (order_id,)) == "hyperswitch"

    fake.settle(payment_id)
    event = {
        "merchant_id": fake.merchant_id,
        "event_id": "evt_hs_1",
        "event_type": "payment_succeeded",
        "content": {"type": "payment_details", "object": fake.payments[payment_id]},
        "timestamp": "2026-12-01T08:00:00.000Z",
    }
    assert (await post_webhook(client, event)).status == 200
    assert await client.app[DB].fetch_val("SELECT status FROM orders WHERE id = %s", (order_id,)) == "completed"
    assert await count(client, "seller_transfers WHERE amount_cents = 2699 AND platform_fee_cents = 300") == 1


async def test_hyperswitch_down_is_503_and_the_order_failed(client, fake):
    seller, buyer = await make_user(client), await make_user(client)
    product = await make_product(client, seller)
    fake.fail_next(5, status=503)
    body = {"items": [{"product_id": product["id"], "quantity": 1}], "payment_method": "card"}
    resp = await client.post("/api/v1/marketplace/orders", json=body, headers=buyer["headers"])
    assert resp.status == 503
    assert await client.app[DB].fetch_all("SELECT status, payment_id FROM orders") == [
        {"status": "failed", "payment_id": None}
    ]
