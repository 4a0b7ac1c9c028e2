"""Checkout with PAYMENT_GATEWAY=hyperswitch against the local Hyperswitch (tests/payments/fake_hyperswitch.py):
the payment request it gets, and its webhook completing the order through the same code as the sandbox's."""

from __future__ import annotations

import pytest

from tests.factories import checkout, make_product, make_user
from tests.payments.conftest import HYPERSWITCH_API_KEY
from tests.payments.helpers import count, post_webhook
from veza.app import create_app
from veza.keys import DB, PAYMENT_GATEWAY
from veza.payments.gateways import build_gateway
from veza.payments.hyperswitch import HyperswitchGateway
from veza.payments.sandbox import SandboxGateway
from veza.settings import ConfigError


@pytest.fixture
async def client(aiohttp_client, settings, fake_hyperswitch):
    app = create_app(
        settings.model_copy(
            update={
                "payment_gateway": "hyperswitch",
                "hyperswitch_base_url": fake_hyperswitch.url,
                "hyperswitch_api_key": HYPERSWITCH_API_KEY,
            }
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


async def test_an_order_paid_through_hyperswitch(client, fake_hyperswitch):
    assert isinstance(client.app[PAYMENT_GATEWAY], HyperswitchGateway)
    seller, buyer = await make_user(client), await make_user(client)
    product = await make_product(client, seller, price_cents=2999)
    created = await checkout(client, buyer, product)
    order_id, payment_id = created["order"]["id"], created["payment"]["payment_id"]
    (request,) = [r for r in fake_hyperswitch.requests if r.path == "/payments"]
    assert request.method == "POST" and request.headers["api-key"] == HYPERSWITCH_API_KEY
    assert (request.json["amount"], request.json["currency"]) == (2999, "EUR")
    assert request.json["metadata"] == {"order_id": order_id, "buyer_id": buyer["user"]["id"]}
    assert created["payment"]["client_secret"] == fake_hyperswitch.payments[payment_id]["client_secret"]
    assert await client.app[DB].fetch_val("SELECT gateway FROM orders WHERE id = %s", (order_id,)) == "hyperswitch"

    fake_hyperswitch.settle(payment_id)
    event = {
        "merchant_id": fake_hyperswitch.merchant_id,
        "event_id": "evt_hs_1",
        "event_type": "payment_succeeded",
        "content": {"type": "payment_details", "object": fake_hyperswitch.payments[payment_id]},
        "timestamp": "2026-12-01T08:00:00.000Z",
    }
    assert (await post_webhook(client, event)).status == 200
    assert await client.app[DB].fetch_val("SELECT status FROM orders WHERE id = %s", (order_id,)) == "completed"
    assert await count(client, "seller_transfers WHERE amount_cents = 2699 AND platform_fee_cents = 300") == 1


async def test_hyperswitch_down_is_503_and_the_order_failed(client, fake_hyperswitch):
    seller, buyer = await make_user(client), await make_user(client)
    product = await make_product(client, seller)
    fake_hyperswitch.fail_next(5, status=503)
    body = {"items": [{"product_id": product["id"], "quantity": 1}], "payment_method": "card"}
    resp = await client.post("/api/v1/marketplace/orders", json=body, headers=buyer["headers"])
    assert resp.status == 503
    assert await client.app[DB].fetch_all("SELECT status, payment_id FROM orders") == [
        {"status": "failed", "payment_id": None}
    ]
