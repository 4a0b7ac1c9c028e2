"""The Stripe Connect gateway against a local server that speaks Stripe's API (tests/payments/fake_stripe.py)."""

import logging
import time

import pytest

from tests.payments.fake_stripe import FakeStripe
from veza.payments.connect import Balance, ConnectAccount, Reversal, Transfer
from veza.payments.gateway import GatewayRefused, GatewayUnavailable
from veza.payments.gateways import build_connect_gateway
from veza.payments.stripe_connect import StripeConnect
from veza.payments.stripe_webhooks import account_connected
from veza.settings import ConfigError, Settings

API_KEY = "sk_test_51Veza0123456789abcdef"
TIMEOUT = 0.3  # seconds: GATEWAY_TIMEOUT in these tests


@pytest.fixture
async def fake(aiohttp_server):
    fake = FakeStripe(API_KEY)
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    fake.release()  # requests still held, so that the server can close


def settings_for(url: str, api_key: str | None = API_KEY) -> Settings:
    return Settings(
        connect_gateway="stripe",
        stripe_secret_key=api_key,
        stripe_api_base=url,
        gateway_connect_timeout=0.2,
        gateway_timeout=TIMEOUT,
    )


@pytest.fixture
async def gateway(fake):
    gateway = build_connect_gateway(settings_for(fake.url), db=None)
    yield gateway
    await gateway.close()


async def onboarded(gateway, fake, key="user-1") -> str:
    account = await gateway.create_account(email="seller@example.com", idempotency_key=key)
    fake.complete_onboarding(account.account_id)
    return account.account_id


async def send(gateway, destination, key="transfer-1", amount=2699, source_transaction=None) -> Transfer:
    return await gateway.create_transfer(
        destination=destination,
        amount=amount,
        currency="EUR",
        transfer_group="order-1",
        source_transaction=source_transaction,
        idempotency_key=key,
    )


def test_the_settings_choose_stripe_and_it_needs_its_key(fake):
    assert build_connect_gateway(settings_for("http://127.0.0.1:9"), db=None).name == "stripe"
    with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY"):
        StripeConnect.from_settings(settings_for("http://127.0.0.1:9", api_key=None))
    assert API_KEY not in repr(StripeConnect.from_settings(settings_for("http://127.0.0.1:9")))


def test_an_account_is_connected_once_submitted_with_transfers_active():
    submitted = {"details_submitted": True, "capabilities": {"transfers": "active"}}
    assert account_connected(submitted) is True
    assert account_connected({**submitted, "details_submitted": False}) is False
    assert account_connected({**submitted, "capabilities": {"transfers": "pending"}}) is False
    assert account_connected({"details_submitted": True}) is False


async def test_create_account_posts_an_express_account_with_the_callers_key(gateway, fake):
    account = await gateway.create_account(email="seller@example.com", idempotency_key="connect-account-u1")

    assert account == ConnectAccount(account.account_id, False)
    [request] = fake.requests
    assert (request.method, request.path) == ("POST", "/v1/accounts")
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Idempotency-Key"] == "connect-account-u1"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Stripe-Account" not in request.headers
    assert sorted(request.form) == [
        ("capabilities[transfers][requested]", "true"),
        ("email", "seller@example.com"),
        ("type", "express"),
    ]
    # the same key: Stripe answers the first account again, never a second one
    assert await gateway.create_account(email="seller@example.com", idempotency_key="connect-account-u1") == account
    assert fake.requests[1].headers["Idempotency-Key"] == "connect-account-u1"
    assert len(fake.accounts) == 1


async def test_retrieve_account_tells_whether_onboarding_is_done(gateway, fake):
    account_id = (await gateway.create_account(email="s@example.com", idempotency_key="u")).account_id
    assert await gateway.retrieve_account(account_id) == ConnectAccount(account_id, False)
    fake.complete_onboarding(account_id)
    assert await gateway.retrieve_account(account_id) == ConnectAccount(account_id, True)
    assert (fake.requests[-1].method, fake.requests[-1].path) == ("GET", f"/v1/accounts/{account_id}")


async def test_onboarding_link_is_an_account_onboarding_link(gateway, fake):
    account_id = (await gateway.create_account(email="s@example.com", idempotency_key="u")).account_id
    url = await gateway.onboarding_link(
        account_id, refresh_url="https://veza.example/refresh", return_url="https://veza.example/done"
    )

    assert url.startswith(f"https://connect.stripe.com/setup/e/{account_id}/")
    request = fake.requests[-1]
    assert (request.method, request.path) == ("POST", "/v1/account_links")
    assert request.params == {
        "account": account_id,
        "type": "account_onboarding",
        "refresh_url": "https://veza.example/refresh",
        "return_url": "https://veza.example/done",
    }
    assert request.headers["Idempotency-Key"]  # each link its own: links are single-use


async def test_balance_sums_the_connected_accounts_funds_of_the_currency(gateway, fake):
    account_id = await onboarded(gateway, fake)
    await send(gateway, account_id, "t-1", amount=2699)
    fake.make_available(account_id)
    await send(gateway, account_id, "t-2", amount=1800)
    fake.add_funds(account_id, "available", 1000, "eur")
    fake.add_funds(account_id, "pending", 700, "usd")  # another currency: not counted
    fake.add_funds(account_id, "pending", -300, "eur")  # a negative amount (a refund's debit) counts

    assert await gateway.balance(account_id, "EUR") == Balance(available=3699, pending=1500, currency="EUR")
    assert await gateway.balance(account_id, "USD") == Balance(available=0, pending=700, currency="USD")
    request = fake.requests[-1]
    assert (request.method, request.path) == ("GET", "/v1/balance")
    assert request.headers["Stripe-Account"] == account_id
    assert "Idempotency-Key" not in request.headers  # a read carries none


async def test_create_transfer_posts_what_stripe_expects_once_per_key(gateway, fake):
    account_id = await onboarded(gateway, fake)
    transfer = await send(gateway, account_id, "transfer-abc", source_transaction="ch_3Qx")

    assert transfer == Transfer(transfer.transfer_id, account_id, 2699, "EUR", 0)
    request = fake.posts("/v1/transfers")[0]
    assert request.headers["Idempotency-Key"] == "transfer-abc"
    assert request.params == {
        "amount": "2699",
        "currency": "eur",
        "destination": account_id,
        "transfer_group": "order-1",
        "source_transaction": "ch_3Qx",
    }
    assert await send(gateway, account_id, "transfer-abc", source_transaction="ch_3Qx") == transfer
    assert len(fake.transfers) == 1

    await send(gateway, account_id, "transfer-def")  # no charge to tie it to: no source_transaction sent
    assert "source_transaction" not in fake.posts("/v1/transfers")[-1].params


async def test_reverse_transfer_posts_the_amount_with_the_callers_key(gateway, fake):
    account_id = await onboarded(gateway, fake)
    transfer = await send(gateway, account_id)
    reversal = await gateway.reverse_transfer(transfer.transfer_id, amount=2699, idempotency_key="reversal-1")

    assert reversal == Reversal(reversal.reversal_id, transfer.transfer_id, 2699)
    request = fake.requests[-1]
    assert (request.method, request.path) == ("POST", f"/v1/transfers/{transfer.transfer_id}/reversals")
    assert request.headers["Idempotency-Key"] == "reversal-1"
    assert request.params == {"amount": "2699"}
    assert await gateway.reverse_transfer(transfer.transfer_id, amount=2699, idempotency_key="reversal-1") == reversal
    assert fake.transfers[transfer.transfer_id]["amount_reversed"] == 2699
    with pytest.raises(GatewayRefused, match="exceeds the transfer amount"):
        await gateway.reverse_transfer(transfer.transfer_id, amount=1, idempotency_key="reversal-2")


async def test_refusals_carry_stripes_message(gateway, fake, caplog):
    waiting = (await gateway.create_account(email="s@example.com", idempotency_key="u")).account_id
    with pytest.raises(GatewayRefused, match="capabilities enabled: transfers") as refused:
        await send(gateway, waiting, "t-0")
    assert refused.value.status == 502

    account_id = await onboarded(gateway, fake, key="u2")
    fake.refuse_next_transfers(1)
    with caplog.at_level(logging.WARNING, logger="veza.payments.stripe_connect"):
        with pytest.raises(GatewayRefused, match="insufficient available funds"):
            await send(gateway, account_id, "t-1")
    assert "balance_insufficient" in caplog.text
    assert API_KEY not in caplog.text
    fake.refuse_next_transfers(
        1, status=402, code="card_declined", message="Your card was declined.", type_="card_error"
    )
    with pytest.raises(GatewayRefused, match="Your card was declined"):
        await send(gateway, account_id, "t-2")
    # Stripe keeps a refusal under its key: the same key gets it again, and no transfer is made
    with pytest.raises(GatewayRefused, match="insufficient available funds"):
        await send(gateway, account_id, "t-1")
    with pytest.raises(GatewayRefused, match="same parameters"):  # the key reused for another amount
        await send(gateway, account_id, "t-1", amount=1)
    with pytest.raises(GatewayRefused, match="No such account"):
        await gateway.balance("acct_unknown", "EUR")
    assert fake.transfers == {}


async def test_5xx_rate_limits_and_a_wrong_key_are_unavailable(gateway, fake, caplog):
    account_id = await onboarded(gateway, fake)
    for status in (500, 503, 429):
        fake.fail_next(1, status)
        with pytest.raises(GatewayUnavailable) as unavailable:
            await send(gateway, account_id, "t-1")
        assert unavailable.value.status == 503
    assert len(fake.posts("/v1/transfers")) == 3  # the client never retried on its own
    assert (await send(gateway, account_id, "t-1")).amount == 2699  # nothing was saved under the key

    wrong = StripeConnect.from_settings(settings_for(fake.url, api_key="sk_test_wrong"))
    try:
        with caplog.at_level(logging.ERROR, logger="veza.payments.stripe_connect"):
            with pytest.raises(GatewayUnavailable):
                await wrong.balance(account_id, "EUR")
        assert "STRIPE_SECRET_KEY" in caplog.text
    finally:
        await wrong.close()


async def test_a_silent_stripe_costs_gateway_timeout_and_the_retry_pays_once(gateway, fake):
    account_id = await onboarded(gateway, fake)
    fake.hang_next(1)
    started = time.monotonic()
    with pytest.raises(GatewayUnavailable, match="did not answer"):
        await send(gateway, account_id, "transfer-1")
    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 1

    fake.release()  # Stripe carries the held request out after all: the transfer exists
    await fake.quiet()
    [made] = fake.transfers
    retried = await send(gateway, account_id, "transfer-1")  # the retry, with the same key
    assert retried.transfer_id == made
    assert len(fake.transfers) == 1


async def test_no_server_is_unavailable_within_the_connect_timeout():
    gateway = StripeConnect.from_settings(settings_for("http://127.0.0.1:9"))  # nothing listens there
    try:
        started = time.monotonic()
        with pytest.raises(GatewayUnavailable):
            await gateway.retrieve_account("acct_1")
        assert time.monotonic() - started < TIMEOUT + 1
    finally:
        await gateway.close()
