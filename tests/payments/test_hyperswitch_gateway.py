"""The Hyperswitch gateway against a local server that speaks Hyperswitch's API (tests/payments/fake_hyperswitch.py)."""

import logging
import re
import socket
import time

import aiohttp
import pytest

from tests.payments.fake_hyperswitch import FakeHyperswitch
from veza.payments.gateway import GatewayRefused, GatewayUnavailable, Payment, Refund
from veza.payments.hyperswitch import HyperswitchGateway, HyperswitchRefused, derived_id
from veza.settings import ConfigError, Settings

API_KEY = "snd_9f2c4e1ab07d4c55a7e3b6a1d2c3e4f5"
TIMEOUT = 0.3  # seconds: GATEWAY_TIMEOUT in these tests


@pytest.fixture
async def fake(aiohttp_server):
    fake = FakeHyperswitch(API_KEY)
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("/"))
    yield fake
    fake.release()  # requests still held, so that the server can close


def settings_for(url: str, api_key: str | None = API_KEY) -> Settings:
    return Settings(
        hyperswitch_base_url=url, hyperswitch_api_key=api_key, gateway_connect_timeout=0.2, gateway_timeout=TIMEOUT
    )


@pytest.fixture
async def gateway(fake):
    gateway = HyperswitchGateway.from_settings(settings_for(fake.url))
    yield gateway
    await gateway.close()


async def pay(gateway, key="order-1", amount=2999, currency="EUR") -> Payment:
    return await gateway.create_payment(
        amount=amount, currency=currency, idempotency_key=key, description="Veza order", metadata={"order_id": key}
    )


async def refund(gateway, payment_id, key="refund-1", amount=1000) -> Refund:
    return await gateway.create_refund(
        payment_id=payment_id, amount=amount, idempotency_key=key, reason="requested_by_customer", metadata={"r": key}
    )


def test_ids_are_derived_from_the_key_in_hyperswitchs_format():
    payment_id = derived_id("pay", "0b6f1c9e-4d0a-4c56-9d0e-0d7f2f1f8a11")
    assert re.fullmatch(r"pay_[0-9a-f]{26}", payment_id)
    assert len(payment_id) == 30  # the length Hyperswitch's API reference gives its ids
    assert derived_id("pay", "0b6f1c9e-4d0a-4c56-9d0e-0d7f2f1f8a11") == payment_id
    assert derived_id("pay", "another key") != payment_id
    assert derived_id("ref", "0b6f1c9e-4d0a-4c56-9d0e-0d7f2f1f8a11") == "ref_" + payment_id[4:]


async def test_create_payment_posts_what_hyperswitch_expects(gateway, fake):
    payment = await pay(gateway)

    payment_id = derived_id("pay", "order-1")
    [request] = fake.requests
    assert (request.method, request.path) == ("POST", "/payments")
    assert request.headers["api-key"] == API_KEY
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert request.json == {
        "payment_id": payment_id,
        "amount": 2999,
        "currency": "EUR",
        "confirm": False,
        "capture_method": "automatic",
        "description": "Veza order",
        "metadata": {"order_id": "order-1"},
    }
    stored = fake.payments[payment_id]
    assert payment == Payment(
        payment_id=payment_id,
        client_secret=stored["client_secret"],
        status="requires_payment_method",
        amount=2999,
        currency="EUR",
        metadata={"order_id": "order-1"},
    )
    assert payment.client_secret.startswith(f"{payment_id}_secret_")


async def test_the_same_key_gives_the_same_payment_and_one_object(gateway, fake):
    first = await pay(gateway)
    again = await pay(gateway)

    assert again == first
    assert list(fake.payments) == [first.payment_id]
    assert [(r.method, r.path) for r in fake.requests] == [
        ("POST", "/payments"),
        ("POST", "/payments"),  # refused by Hyperswitch as a duplicate id
        ("GET", f"/payments/{first.payment_id}"),
    ]
    other = await pay(gateway, key="order-2")
    assert other.payment_id != first.payment_id
    assert len(fake.payments) == 2


async def test_a_key_reused_for_another_amount_is_refused(gateway, fake):
    await pay(gateway, amount=2999)
    with pytest.raises(GatewayRefused, match="already exists for another amount"):
        await pay(gateway, amount=5000)
    assert [p["amount"] for p in fake.payments.values()] == [2999]


async def test_retrieve_payment(gateway, fake):
    created = await pay(gateway)
    fake.settle(created.payment_id)

    payment = await gateway.retrieve_payment(created.payment_id)

    assert fake.requests[-1].method == "GET"
    assert fake.requests[-1].path == f"/payments/{created.payment_id}"
    assert fake.requests[-1].headers["api-key"] == API_KEY
    assert fake.requests[-1].json is None
    assert payment.status == "succeeded"
    assert (payment.payment_id, payment.amount, payment.currency) == (created.payment_id, 2999, "EUR")


async def test_retrieve_unknown_payment_is_refused_with_hyperswitchs_message(gateway):
    with pytest.raises(HyperswitchRefused) as caught:
        await gateway.retrieve_payment("pay_doesnotexist")
    assert (caught.value.upstream_status, caught.value.upstream_code) == (404, "HE_02")
    assert caught.value.status == 502
    assert caught.value.code == "payment_refused"
    assert caught.value.message == "The payment service refused the request: Payment does not exist in our records"


async def test_an_id_hyperswitch_cannot_hold_is_refused_without_a_request(gateway, fake):
    with pytest.raises(GatewayRefused, match="Not a Hyperswitch id"):
        await gateway.retrieve_payment("../refunds/x")
    assert fake.requests == []


async def test_create_refund_posts_what_hyperswitch_expects(gateway, fake):
    payment = await pay(gateway)
    fake.settle(payment.payment_id)

    created = await refund(gateway, payment.payment_id)

    refund_id = derived_id("ref", "refund-1")
    request = fake.requests[-1]
    assert (request.method, request.path) == ("POST", "/refunds")
    assert request.headers["api-key"] == API_KEY
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "payment_id": payment.payment_id,
        "refund_id": refund_id,
        "amount": 1000,
        "reason": "requested_by_customer",
        "metadata": {"r": "refund-1"},
    }
    assert created == Refund(
        refund_id=refund_id,
        payment_id=payment.payment_id,
        status="pending",
        amount=1000,
        currency="EUR",
        metadata={"r": "refund-1"},
    )


async def test_the_same_refund_key_gives_the_same_refund_and_one_object(gateway, fake):
    payment = await pay(gateway)
    fake.settle(payment.payment_id)
    first = await refund(gateway, payment.payment_id)
    again = await refund(gateway, payment.payment_id)

    assert again == first
    assert list(fake.refunds) == [first.refund_id]
    assert [(r.method, r.path) for r in fake.requests[-3:]] == [
        ("POST", "/refunds"),
        ("POST", "/refunds"),
        ("GET", f"/refunds/{first.refund_id}"),
    ]
    second = await refund(gateway, payment.payment_id, key="refund-2", amount=1999)
    assert second.refund_id != first.refund_id
    assert sum(r["amount"] for r in fake.refunds.values()) == 2999


async def test_refunds_hyperswitch_refuses(gateway, fake):
    payment = await pay(gateway)
    with pytest.raises(HyperswitchRefused) as unpaid:
        await refund(gateway, payment.payment_id)
    assert unpaid.value.upstream_code == "IR_14"
    assert "status of requires_payment_method" in unpaid.value.message

    fake.settle(payment.payment_id)
    with pytest.raises(HyperswitchRefused) as too_much:
        await refund(gateway, payment.payment_id, amount=3000)
    assert (too_much.value.upstream_status, too_much.value.upstream_code) == (400, "IR_13")
    assert too_much.value.upstream_message == "The refund amount exceeds the amount captured"
    assert fake.refunds == {}


async def test_a_4xx_is_refused_with_hyperswitchs_message(gateway, fake):
    with pytest.raises(HyperswitchRefused) as caught:
        await pay(gateway, currency="eur")
    assert (caught.value.upstream_status, caught.value.upstream_code) == (400, "IR_06")
    assert caught.value.upstream_message == "Json deserialize error: unknown variant `eur` for `currency`"
    assert fake.payments == {}


async def test_a_wrong_api_key_is_refused_and_logged_as_an_error(fake, caplog):
    gateway = HyperswitchGateway.from_settings(settings_for(fake.url, api_key="snd_wrong"))
    try:
        with pytest.raises(HyperswitchRefused) as caught:
            await pay(gateway)
    finally:
        await gateway.close()
    assert (caught.value.upstream_status, caught.value.upstream_code) == (401, "IR_01")
    assert caught.value.upstream_message == "API key not provided or invalid API key used"
    assert fake.payments == {}
    [record] = [r for r in caplog.records if r.name == "veza.payments.hyperswitch"]
    assert record.levelno == logging.ERROR
    assert (
        record.getMessage() == "Hyperswitch POST /payments refused: IR_01 API key not provided or invalid API key used"
    )
    assert "snd_wrong" not in caplog.text


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_a_5xx_or_rate_limit_is_unavailable_and_not_retried(gateway, fake, status):
    fake.fail_next(1, status)
    with pytest.raises(GatewayUnavailable) as caught:
        await pay(gateway)
    assert caught.value.status == 503
    assert caught.value.headers == {"Retry-After": "5"}
    assert len(fake.requests) == 1
    assert fake.payments == {}

    payment = await pay(gateway)  # the caller's later retry
    assert list(fake.payments) == [payment.payment_id]


async def test_a_hanging_server_is_unavailable_within_the_timeout(gateway, fake):
    fake.hang_next(1)
    started = time.monotonic()
    with pytest.raises(GatewayUnavailable, match="did not answer in time"):
        await pay(gateway)
    elapsed = time.monotonic() - started
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 0.5

    # Hyperswitch carried the request out after all; the caller's retry finds that payment.
    fake.release()
    await fake.quiet()
    assert len(fake.payments) == 1
    payment = await pay(gateway)
    assert list(fake.payments) == [payment.payment_id]


async def test_a_hanging_retrieve_is_unavailable_within_the_timeout(gateway, fake):
    created = await pay(gateway)
    fake.hang_next(1)
    started = time.monotonic()
    with pytest.raises(GatewayUnavailable):
        await gateway.retrieve_payment(created.payment_id)
    assert time.monotonic() - started < TIMEOUT + 0.5


async def test_a_dropped_connection_is_sent_once_more(gateway, fake):
    fake.drop_next(1)
    payment = await pay(gateway)
    assert [(r.method, r.path) for r in fake.requests] == [("POST", "/payments"), ("POST", "/payments")]
    assert list(fake.payments) == [payment.payment_id]


async def test_two_dropped_connections_are_unavailable(gateway, fake):
    fake.drop_next(2)
    with pytest.raises(GatewayUnavailable, match="cannot be reached"):
        await pay(gateway)
    assert len(fake.requests) == 2
    assert fake.payments == {}


async def test_nothing_listening_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = HyperswitchGateway.from_settings(settings_for(f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(GatewayUnavailable, match="cannot be reached"):
            await pay(gateway)
    finally:
        await gateway.close()


async def test_the_api_key_never_appears_in_logs(gateway, fake, caplog):
    caplog.set_level(logging.DEBUG)
    payment = await pay(gateway)
    await pay(gateway)  # the duplicate path
    fake.fail_next(1, 503)
    with pytest.raises(GatewayUnavailable):
        await gateway.retrieve_payment(payment.payment_id)
    fake.hang_next(1)
    with pytest.raises(GatewayUnavailable):
        await gateway.retrieve_payment(payment.payment_id)
    fake.drop_next(1)
    await pay(gateway, key="order-2")
    with pytest.raises(HyperswitchRefused):
        await refund(gateway, payment.payment_id)

    messages = [record.getMessage() for record in caplog.records if record.name == "veza.payments.hyperswitch"]
    assert messages == [
        f"Hyperswitch /payments: {payment.payment_id} exists already, fetching it",
        "Hyperswitch GET /payments: The payment service failed (HTTP 503)",
        f"Hyperswitch /payments: no answer within {TIMEOUT} s",
        "Hyperswitch POST /payments: ServerDisconnectedError, sending it again",
        "Hyperswitch POST /refunds refused: IR_14 This Payment could not be refund because it has a status of "
        "requires_payment_method. The expected state is succeeded, partially_captured",
    ]
    assert API_KEY not in caplog.text
    assert all(API_KEY not in str(record.__dict__) for record in caplog.records)
    assert API_KEY not in repr(gateway)


async def test_without_an_api_key_the_gateway_does_not_start():
    with pytest.raises(ConfigError, match="HYPERSWITCH_API_KEY"):
        HyperswitchGateway.from_settings(settings_for("https://sandbox.hyperswitch.io", api_key=None))


async def test_close_ends_the_session_and_a_later_call_opens_another(gateway, fake):
    await pay(gateway)
    session = gateway._session
    await gateway.close()
    assert session.closed
    await gateway.close()  # twice is harmless
    await gateway.retrieve_payment(derived_id("pay", "order-1"))
    assert gateway._session is not session


# The fake itself answers as Hyperswitch does.


async def post(fake, path, body, api_key=API_KEY):
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.url.rstrip("/") + path, json=body, headers={"api-key": api_key}) as response,
    ):
        return response.status, await response.json()


async def test_fake_refuses_a_payment_without_amount_or_with_unknown_fields(fake):
    assert await post(fake, "/payments", {"currency": "EUR"}) == (
        400,
        {"error": {"type": "invalid_request", "message": "Missing required param: amount", "code": "IR_04"}},
    )
    status, body = await post(fake, "/payments", {"amount": 100, "currency": "EUR", "refund_reason": "x"})
    assert (status, body["error"]["code"]) == (400, "IR_06")
    assert body["error"]["message"] == "Json deserialize error: unknown field `refund_reason`"
    status, body = await post(fake, "/payments", {"amount": 100, "currency": "EUR", "payment_id": "pay id"})
    assert body["error"]["message"] == "Json deserialize error: value `pay id` contains invalid character ` `"
    assert await post(fake, "/payments", {"amount": 100, "currency": "EUR"}, api_key="") == (
        401,
        {
            "error": {
                "type": "invalid_request",
                "message": "API key not provided or invalid API key used",
                "code": "IR_01",
            }
        },
    )
    assert fake.payments == {}


async def test_fake_refuses_a_taken_id(fake):
    body = {"amount": 100, "currency": "EUR", "payment_id": "pay_taken"}
    assert (await post(fake, "/payments", body))[0] == 200
    assert await post(fake, "/payments", body) == (
        400,
        {
            "error": {
                "type": "invalid_request",
                "message": "The payment with the specified payment_id already exists in our records",
                "code": "HE_01",
            }
        },
    )
    fake.settle("pay_taken")
    refund_body = {"payment_id": "pay_taken", "refund_id": "ref_taken", "amount": 10}
    assert (await post(fake, "/refunds", refund_body))[0] == 200
    status, body = await post(fake, "/refunds", refund_body)
    assert (status, body["error"]["code"]) == (400, "HE_01")
    assert len(fake.payments) == len(fake.refunds) == 1
