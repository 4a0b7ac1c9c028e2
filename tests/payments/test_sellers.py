"""The seller's payout side on the sandbox: onboarding through the signed link, balance, payout history."""

import asyncio
import time
from urllib.parse import parse_qsl, urlsplit

from tests.factories import make_product, make_user, paid_order, run_burst_worker
from tests.payments.helpers import count, worker_settings
from veza.constants import SEND_TRANSFER_JOB
from veza.keys import ARQ, CONNECT_GATEWAY, DB, SETTINGS
from veza.payments.payouts import transfer_job_id
from veza.payments.sandbox_connect import ONBOARDING_PATH, _link_signature
from veza.payments.sellers import ONBOARDINGS_PER_MINUTE

ONBOARD = "/api/v1/sell/connect/onboard"
BALANCE = "/api/v1/sell/balance"
TRANSFERS = "/api/v1/sell/transfers"


async def onboard(client, user) -> str:
    resp = await client.post(ONBOARD, headers=user["headers"])
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert list(body["data"]) == ["onboarding_url"]
    return body["data"]["onboarding_url"]


def local(url: str) -> str:
    """The link's path and query, to open on the test server."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def balance(client, user) -> dict:
    resp = await client.get(BALANCE, headers=user["headers"])
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]


async def transfer_jobs(client) -> list:
    return [job for job in await client.app[ARQ].queued_jobs() if job.function == SEND_TRANSFER_JOB]


async def sold(client, seller, price=2999) -> dict:
    """A paid order of one of the seller's products: the seller has a pending transfer."""
    product = await make_product(client, seller, price_cents=price)
    return await paid_order(client, await make_user(client), product)


async def test_onboarding_on_the_sandbox_connects_the_seller_and_sends_their_waiting_transfer(client):
    seller = await make_user(client)
    seller_id = seller["user"]["id"]
    order = await sold(client, seller)
    transfer_id = await client.app[DB].fetch_val("SELECT id FROM seller_transfers WHERE seller_id = %s", (seller_id,))
    await run_burst_worker(worker_settings(client))  # the completion's transfer job: the seller is not connected
    assert await client.app[DB].fetch_val("SELECT status FROM seller_transfers WHERE id = %s", (transfer_id,)) == (
        "pending"
    )
    assert await balance(client, seller) == {"connected": False, "available": 0, "pending": 0}

    url = await onboard(client, seller)
    assert url.startswith(client.app[SETTINGS].public_url + ONBOARDING_PATH + "?")
    account = await client.app[DB].fetch_one("SELECT * FROM connect_accounts WHERE user_id = %s", (seller_id,))
    assert (account["gateway"], account["connected"], account["connected_at"]) == ("sandbox", False, None)
    assert dict(parse_qsl(urlsplit(url).query))["account"] == account["account_id"]
    assert await transfer_jobs(client) == []  # not connected: the transfer waits

    resp = await client.get(local(url))  # the seller opens the link in their browser
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["data"] == {
        "account_id": account["account_id"],
        "connected": True,
        "message": "Onboarding complete, you can close this tab",
    }
    account = await client.app[DB].fetch_one("SELECT * FROM connect_accounts WHERE user_id = %s", (seller_id,))
    assert account["connected"] is True and account["connected_at"] is not None
    assert await balance(client, seller) == {"connected": True, "available": 0, "pending": 0}

    [job] = await transfer_jobs(client)
    assert (job.job_id, job.function, job.args) == (
        transfer_job_id(transfer_id, 0),
        SEND_TRANSFER_JOB,
        (str(transfer_id),),
    )
    [note] = await client.app[DB].fetch_all(
        "SELECT type, title, data FROM notifications WHERE user_id = %s AND type = 'payouts.connected'", (seller_id,)
    )
    assert (note["title"], note["data"]) == ("Payouts are on", {"account_id": account["account_id"]})

    # Opening the link again changes nothing: connected once, queued once, told once.
    resp = await client.get(local(url))
    assert resp.status == 200
    assert account == await client.app[DB].fetch_one("SELECT * FROM connect_accounts WHERE user_id = %s", (seller_id,))
    assert len(await transfer_jobs(client)) == 1
    assert await count(client, "notifications WHERE type = 'payouts.connected'") == 1
    assert order["items"][0]["seller_id"] == account["user_id"]


async def test_the_balance_is_the_gateways_in_cents(client):
    seller = await make_user(client)
    await client.get(local(await onboard(client, seller)))
    account_id = await client.app[DB].fetch_val(
        "SELECT account_id FROM connect_accounts WHERE user_id = %s", (seller["user"]["id"],)
    )
    gateway = client.app[CONNECT_GATEWAY]
    for key, amount in (("t-1", 2699), ("t-2", 1800), ("t-3", 500)):
        await gateway.create_transfer(
            destination=account_id,
            amount=amount,
            currency="EUR",
            transfer_group="o",
            source_transaction=None,
            idempotency_key=key,
        )
    await gateway.create_transfer(
        destination=account_id,
        amount=700,
        currency="USD",
        transfer_group="o",
        source_transaction=None,
        idempotency_key="u",
    )
    await client.app[DB].execute(
        "UPDATE sandbox_transfers SET created_at = now() - interval '3 days' WHERE idempotency_key IN ('t-1', 't-3')"
    )
    assert await balance(client, seller) == {"connected": True, "available": 3199, "pending": 1800}
    resp = await client.get(BALANCE, params={"currency": "USD"}, headers=seller["headers"])
    assert (await resp.json())["data"] == {"connected": True, "available": 0, "pending": 700}
    resp = await client.get(BALANCE, params={"currency": "XXX"}, headers=seller["headers"])
    assert resp.status == 422

    gateway.unavailable = True
    resp = await client.get(BALANCE, headers=seller["headers"])
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "5"
    assert (await resp.json())["code"] == "unavailable"


async def test_one_account_per_seller_even_when_first_onboardings_race(client):
    seller = await make_user(client)
    urls = await asyncio.gather(*(onboard(client, seller) for _ in range(4)))
    assert await count(client, "connect_accounts") == 1
    assert await count(client, "sandbox_connect_accounts") == 1
    account_id = await client.app[DB].fetch_val("SELECT account_id FROM connect_accounts")
    assert {dict(parse_qsl(urlsplit(url).query))["account"] for url in urls} == {account_id}
    await onboard(client, seller)  # later calls: a new link, the same account
    assert await count(client, "sandbox_connect_accounts") == 1


async def test_onboarding_needs_a_user_is_rate_limited_and_writes_nothing_when_the_gateway_is_down(client):
    assert (await client.post(ONBOARD)).status == 401
    seller = await make_user(client)
    client.app[CONNECT_GATEWAY].unavailable = True
    resp = await client.post(ONBOARD, headers=seller["headers"])
    assert resp.status == 503
    assert await count(client, "connect_accounts") == 0
    client.app[CONNECT_GATEWAY].unavailable = False

    for _ in range(ONBOARDINGS_PER_MINUTE - 1):  # the failed call above counted too
        await onboard(client, seller)
    resp = await client.post(ONBOARD, headers=seller["headers"])
    assert resp.status == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert (await onboard(client, await make_user(client))).startswith("http")  # per user


async def test_sandbox_links_that_are_forged_or_expired_change_nothing(client):
    seller = await make_user(client)
    query = dict(parse_qsl(urlsplit(await onboard(client, seller)).query))
    settings = client.app[SETTINGS]
    path = ONBOARDING_PATH

    async def opened(**changes):
        resp = await client.get(path, params={**query, **changes})
        return resp.status, (await resp.json()).get("code")

    assert await opened(signature="0" * 64) == (404, "not_found")
    assert await opened(account="acct_someone_else") == (404, "not_found")
    assert await opened(expires=str(int(query["expires"]) + 1)) == (404, "not_found")
    assert await opened(signature="é" * 10) == (404, "not_found")
    assert await opened(expires="²") == (404, "not_found")
    past = int(time.time()) - 10
    assert await opened(expires=str(past), signature=_link_signature(settings, query["account"], past)) == (
        410,
        "link_expired",
    )
    resp = await client.get(path, params={"account": query["account"]})
    assert resp.status == 422
    assert await count(client, "connect_accounts WHERE connected") == 0
    assert await count(client, "sandbox_connect_accounts WHERE onboarded") == 0


async def test_the_payout_history_is_the_sellers_own_newest_first_in_pages(client):
    seller, other = await make_user(client), await make_user(client)
    for price in (1000, 2000, 3000):
        await sold(client, seller, price)
    await sold(client, other, 4000)
    await client.app[DB].execute(
        "UPDATE seller_transfers SET created_at = now() - make_interval(secs => amount_cents)"
    )  # distinct times: the cheapest is the newest

    resp = await client.get(TRANSFERS, params={"limit": 2}, headers=seller["headers"])
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert data["total"] == 3
    assert [t["amount_cents"] for t in data["transfers"]] == [900, 1800]
    first = data["transfers"][0]
    assert set(first) == {
        "id", "seller_id", "order_id", "amount_cents", "platform_fee_cents", "currency", "status",
        "retry_count", "next_retry_at", "created_at",
    }  # fmt: skip
    assert (first["seller_id"], first["platform_fee_cents"], first["currency"], first["status"]) == (
        seller["user"]["id"],
        100,
        "EUR",
        "pending",
    )
    assert (first["retry_count"], first["next_retry_at"]) == (0, None)
    assert first["created_at"].endswith("Z")
    resp = await client.get(TRANSFERS, params={"limit": 2, "offset": 2}, headers=seller["headers"])
    data = (await resp.json())["data"]
    assert ([t["amount_cents"] for t in data["transfers"]], data["total"]) == ([2700], 3)

    resp = await client.get(TRANSFERS, headers=(await make_user(client))["headers"])
    assert (await resp.json())["data"] == {"transfers": [], "total": 0}
    assert (await client.get(TRANSFERS)).status == 401
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}):
        assert (await client.get(TRANSFERS, params=bad, headers=seller["headers"])).status == 422
