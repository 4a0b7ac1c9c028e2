"""Payouts on Stripe Connect through the app: onboarding against the local Stripe, and Stripe's signed
webhook (POST /webhooks/stripe) connecting the seller."""

import time
import uuid

import orjson
import pytest

from tests.factories import make_product, make_user, paid_order
from tests.payments.fake_stripe import FakeStripe
from tests.payments.helpers import count
from veza.app import create_app
from veza.constants import SEND_TRANSFER_JOB
from veza.errors import Unauthorized
from veza.keys import ARQ, CONNECT_GATEWAY, DB
from veza.payments.payouts import transfer_job_id
from veza.payments.sandbox_connect import ONBOARDING_PATH, _link_signature
from veza.payments.stripe_webhooks import sign, verify
from veza.settings import ConfigError, load_settings

API_KEY = "sk_test_51VezaWebhooks"
WHSEC = "whsec_test_0123456789abcdef"
WEBHOOK = "/api/v1/webhooks/stripe"


@pytest.fixture
async def fake(aiohttp_server):
    fake = FakeStripe(API_KEY)
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
def app(settings, fake):
    return create_app(
        settings.model_copy(
            update={
                "connect_gateway": "stripe",
                "stripe_secret_key": API_KEY,
                "stripe_webhook_secret": WHSEC,
                "stripe_api_base": fake.url,
                "public_url": "https://veza.example",
            }
        )
    )


def account_event(account: dict, *, event_id: str | None = None, type_: str = "account.updated") -> dict:
    """A Stripe event as its Connect webhooks send it."""
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2026-11-17.clover",
        "account": account.get("id"),
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": type_,
        "data": {"object": account, "previous_attributes": {"details_submitted": False}},
    }


async def post_event(client, payload, *, signature="sign", at: int | None = None, secret: str = WHSEC):
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        signature = sign(secret, body, int(time.time()) if at is None else at)
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return await client.post(WEBHOOK, data=body, headers=headers)


async def onboarded_seller(client, fake) -> tuple[dict, str]:
    """A seller who onboarded at Stripe (not yet told to us), with a pending transfer; and their account id."""
    seller = await make_user(client)
    await paid_order(client, await make_user(client), await make_product(client, seller))
    resp = await client.post("/api/v1/sell/connect/onboard", headers=seller["headers"])
    assert resp.status == 200, await resp.text()
    [account_id] = fake.accounts
    fake.complete_onboarding(account_id)
    return seller, account_id


async def transfer_jobs(client) -> list:
    return [job for job in await client.app[ARQ].queued_jobs() if job.function == SEND_TRANSFER_JOB]


async def test_onboarding_makes_one_express_account_and_an_account_link(client, fake):
    seller = await make_user(client)
    resp = await client.post("/api/v1/sell/connect/onboard", headers=seller["headers"])
    assert resp.status == 200, await resp.text()
    [account_id] = fake.accounts
    url = (await resp.json())["data"]["onboarding_url"]
    assert url.startswith(f"https://connect.stripe.com/setup/e/{account_id}/")

    [create] = fake.posts("/v1/accounts")
    assert create.headers["Idempotency-Key"] == f"connect-account-{seller['user']['id']}"
    assert create.params == {
        "type": "express",
        "email": seller["user"]["email"],
        "capabilities": {"transfers": {"requested": "true"}},
    }
    [link] = fake.posts("/v1/account_links")
    assert link.params == {
        "account": account_id,
        "type": "account_onboarding",
        "refresh_url": "https://veza.example/sell/payouts?onboarding=refresh",
        "return_url": "https://veza.example/sell/payouts?onboarding=done",
    }
    row = await client.app[DB].fetch_one("SELECT gateway, account_id, connected FROM connect_accounts")
    assert row == {"gateway": "stripe", "account_id": account_id, "connected": False}

    resp = await client.post("/api/v1/sell/connect/onboard", headers=seller["headers"])
    assert resp.status == 200
    assert len(fake.posts("/v1/accounts")) == 1  # the account is made once
    assert len(fake.posts("/v1/account_links")) == 2  # a link each time: they are single-use

    fake.fail_next(1, 500)
    resp = await client.post("/api/v1/sell/connect/onboard", headers=(await make_user(client))["headers"])
    assert resp.status == 503
    assert await count(client, "connect_accounts") == 1


async def test_account_updated_connects_the_seller_once_and_queues_their_waiting_transfer(client, fake):
    seller, account_id = await onboarded_seller(client, fake)
    seller_id = seller["user"]["id"]
    transfer_id = await client.app[DB].fetch_val("SELECT id FROM seller_transfers WHERE seller_id = %s", (seller_id,))
    event = account_event(fake.accounts[account_id].json())

    resp = await post_event(client, event)
    assert resp.status == 200, await resp.text()
    assert (await resp.json()) == {"success": True, "data": {"received": True}}
    row = await client.app[DB].fetch_one("SELECT connected, connected_at FROM connect_accounts")
    assert row["connected"] is True and row["connected_at"] is not None
    stored = await client.app[DB].fetch_one("SELECT * FROM webhook_events WHERE source = 'stripe'")
    assert (stored["event_id"], stored["event_type"], stored["outcome"]) == (
        event["id"],
        "account.updated",
        "applied: seller connected",
    )
    assert stored["payload"] == event and stored["processed_at"] is not None
    [job] = await transfer_jobs(client)
    assert (job.job_id, job.args) == (transfer_job_id(transfer_id, 0), (str(transfer_id),))
    assert await count(client, "notifications WHERE type = 'payouts.connected' AND title = 'Payouts are on'") == 1

    # The same event again (Stripe retries until answered 2xx): acknowledged, nothing done twice.
    resp = await post_event(client, event)
    assert resp.status == 200
    assert await count(client, "webhook_events WHERE source = 'stripe'") == 1
    assert await count(client, "notifications WHERE type = 'payouts.connected'") == 1
    assert len(await transfer_jobs(client)) == 1
    assert row == await client.app[DB].fetch_one("SELECT connected, connected_at FROM connect_accounts")

    # Another event about the same account, later: stored, and the seller stays connected once.
    resp = await post_event(client, account_event(fake.accounts[account_id].json()))
    outcome = await client.app[DB].fetch_val(
        "SELECT outcome FROM webhook_events WHERE source = 'stripe' AND event_id <> %s", (event["id"],)
    )
    assert (resp.status, outcome) == (200, "ignored: connected already")


async def test_the_balance_is_stripes_for_a_connected_seller(client, fake):
    seller, account_id = await onboarded_seller(client, fake)
    resp = await client.get("/api/v1/sell/balance", headers=seller["headers"])
    assert (await resp.json())["data"] == {"connected": False, "available": 0, "pending": 0}
    assert [r.path for r in fake.requests if r.method == "GET"] == []  # not connected: Stripe is not asked

    assert (await post_event(client, account_event(fake.accounts[account_id].json()))).status == 200
    gateway = client.app[CONNECT_GATEWAY]
    for key, amount in (("t-1", 2699), ("t-2", 1800)):
        await gateway.create_transfer(
            destination=account_id,
            amount=amount,
            currency="EUR",
            transfer_group="o",
            source_transaction=None,
            idempotency_key=key,
        )
        if key == "t-1":
            fake.make_available(account_id)
    fake.add_funds(account_id, "pending", 1400, "eur")
    fake.add_funds(account_id, "available", 999, "usd")
    resp = await client.get("/api/v1/sell/balance", headers=seller["headers"])
    assert (await resp.json())["data"] == {"connected": True, "available": 2699, "pending": 3200}
    assert fake.requests[-1].headers["Stripe-Account"] == account_id

    fake.fail_next(1, 502)
    resp = await client.get("/api/v1/sell/balance", headers=seller["headers"])
    assert resp.status == 503
    assert (await resp.json())["code"] == "unavailable"


async def test_events_that_do_not_connect_anyone_are_stored_and_acknowledged(client, fake):
    seller = await make_user(client)
    await client.post("/api/v1/sell/connect/onboard", headers=seller["headers"])
    [account_id] = fake.accounts
    cases = {
        "ignored: onboarding not complete": account_event(fake.accounts[account_id].json()),
        "ignored: no such account": account_event(
            {"id": "acct_unknown", "details_submitted": True, "capabilities": {"transfers": "active"}}
        ),
        "ignored: unhandled event type payout.paid": account_event({"id": "po_1"}, type_="payout.paid"),
        "ignored: the account object lacks its id": account_event({"details_submitted": True}),
    }
    for outcome, event in cases.items():
        resp = await post_event(client, event)
        assert resp.status == 200, await resp.text()
        stored = await client.app[DB].fetch_val(
            "SELECT outcome FROM webhook_events WHERE event_id = %s", (event["id"],)
        )
        assert stored == outcome
    assert await count(client, "connect_accounts WHERE connected") == 0


async def test_bad_signatures_are_refused_and_store_nothing(client, fake):
    _, account_id = await onboarded_seller(client, fake)
    event = account_event(fake.accounts[account_id].json())
    body = orjson.dumps(event)
    now = int(time.time())
    good = sign(WHSEC, body, now)

    refused = {
        "no header": await post_event(client, event, signature=None),
        "another secret": await post_event(client, event, secret="whsec_other"),
        "another body": await post_event(client, event, signature=sign(WHSEC, body + b" ", now)),
        "no v1": await post_event(client, event, signature=f"t={now}"),
        "no t": await post_event(client, event, signature=good.split(",", 1)[1]),
        "garbage": await post_event(client, event, signature="t=abc,v1=é"),
        "stale": await post_event(client, event, at=now - 301),
    }
    for case, resp in refused.items():
        assert resp.status == 401, case
        body_code = (await resp.json())["code"]
        assert body_code == ("stale_signature" if case == "stale" else "invalid_signature"), case
    assert await count(client, "webhook_events WHERE source = 'stripe'") == 0
    assert await count(client, "connect_accounts WHERE connected") == 0

    # A secret being rolled: two v1 signatures, one of them right; a signature 290 s old still counts (the
    # margin: `now` was read before the seven requests above, which a loaded machine may take seconds over).
    rolled = f"t={now - 290},v1={'0' * 64},v1={sign(WHSEC, body, now - 290).split('v1=')[1]}"
    assert (await post_event(client, event, signature=rolled)).status == 200
    assert await count(client, "connect_accounts WHERE connected") == 1


async def test_malformed_events_are_refused_and_store_nothing(client):
    assert (await post_event(client, b"{not json")).status == 400
    assert (await post_event(client, b"\xff\xfe")).status == 400
    assert (await post_event(client, [1, 2])).status == 400
    resp = await post_event(client, {"id": "evt_1", "type": "account.updated"})
    assert resp.status == 422
    assert (await post_event(client, {"id": "evt_\u0000", "type": "x", "data": {"object": {}}})).status == 422
    assert (await post_event(client, b"x" * (256 * 1024 + 1))).status == 413
    assert await count(client, "webhook_events WHERE source = 'stripe'") == 0


def test_verify_refuses_without_a_configured_secret():
    body = b"{}"
    with pytest.raises(Unauthorized, match="STRIPE_WEBHOOK_SECRET"):
        verify(None, body, sign("whsec_x", body, int(time.time())))
    verify("whsec_x", body, sign("whsec_x", body, 1_000), now=1_300)
    with pytest.raises(Unauthorized, match="too old"):
        verify("whsec_x", body, sign("whsec_x", body, 1_000), now=1_301)


async def test_the_sandbox_link_route_is_404_when_stripe_pays_sellers(client, settings):
    expires = int(time.time()) + 600
    params = {"account": "acct_1", "expires": str(expires), "signature": _link_signature(settings, "acct_1", expires)}
    resp = await client.get(ONBOARDING_PATH, params=params)
    assert resp.status == 404


def test_production_with_stripe_needs_its_secrets(monkeypatch):
    monkeypatch.setenv("VEZA_ENV", "production")
    for name in ("JWT_SECRET", "RTMP_CALLBACK_SECRET", "SIGNING_SECRET", "HYPERSWITCH_WEBHOOK_SECRET", "METRICS_TOKEN"):
        monkeypatch.setenv(name, "s" * 40)
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    assert load_settings().connect_gateway == "sandbox"  # the sandbox needs no Stripe keys
    monkeypatch.setenv("CONNECT_GATEWAY", "stripe")
    with pytest.raises(ConfigError, match=r"in production: STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET$"):
        load_settings()
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_x")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_x")
    assert load_settings().stripe_connect_enabled is True
