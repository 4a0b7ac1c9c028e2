"""The sandbox Connect gateway keeps its books like a real one: idempotent writes, refusals on demand."""

import pytest

from veza.keys import CONNECT_GATEWAY, DB, SETTINGS
from veza.payments.gateway import GatewayRefused, GatewayUnavailable
from veza.payments.sandbox_connect import fail_next_transfers, valid_onboarding_link


async def onboarded_account(app) -> str:
    gateway = app[CONNECT_GATEWAY]
    account = await gateway.create_account(email="seller@example.com", idempotency_key="user-1")
    assert account.connected is False
    await gateway.complete_onboarding(account.account_id)
    return account.account_id


async def test_accounts_are_made_once_per_key_and_onboarded_by_a_signed_link(client):
    gateway = client.app[CONNECT_GATEWAY]
    first = await gateway.create_account(email="a@example.com", idempotency_key="user-1")
    again = await gateway.create_account(email="a@example.com", idempotency_key="user-1")
    assert first == again
    link = await gateway.onboarding_link(first.account_id, refresh_url="https://x/r", return_url="https://x/d")
    query = dict(part.split("=", 1) for part in link.split("?", 1)[1].split("&"))
    settings = client.app[SETTINGS]
    assert valid_onboarding_link(settings, first.account_id, query["expires"], query["signature"])
    assert not valid_onboarding_link(settings, "acct_other", query["expires"], query["signature"])
    assert not valid_onboarding_link(settings, first.account_id, "1", query["signature"])
    assert (await gateway.complete_onboarding(first.account_id)).connected is True


async def test_a_transfer_is_made_once_per_key_and_lands_pending(client):
    gateway = client.app[CONNECT_GATEWAY]
    account = await onboarded_account(client.app)
    args = {
        "destination": account,
        "amount": 2699,
        "currency": "EUR",
        "transfer_group": "o1",
        "source_transaction": None,
    }
    first = await gateway.create_transfer(**args, idempotency_key="transfer-1")
    assert await gateway.create_transfer(**args, idempotency_key="transfer-1") == first
    assert await client.app[DB].fetch_val("SELECT count(*) FROM sandbox_transfers") == 1
    balance = await gateway.balance(account, "EUR")
    assert (balance.available, balance.pending) == (0, 2699)
    await client.app[DB].execute("UPDATE sandbox_transfers SET created_at = now() - interval '3 days'")
    assert (await gateway.balance(account, "EUR")).available == 2699


async def test_transfers_fail_on_demand_and_to_accounts_not_onboarded(client):
    gateway = client.app[CONNECT_GATEWAY]
    pending = await gateway.create_account(email="b@example.com", idempotency_key="user-2")
    args = {"amount": 100, "currency": "EUR", "transfer_group": "o1", "source_transaction": None}
    with pytest.raises(GatewayRefused, match="onboarding"):
        await gateway.create_transfer(destination=pending.account_id, **args, idempotency_key="t-0")
    account = await onboarded_account(client.app)
    await fail_next_transfers(client.app[DB], account, 2)
    for _ in range(2):
        with pytest.raises(GatewayRefused, match="told to fail"):
            await gateway.create_transfer(destination=account, **args, idempotency_key="t-1")
    transfer = await gateway.create_transfer(destination=account, **args, idempotency_key="t-1")
    assert transfer.amount == 100
    gateway.unavailable = True
    with pytest.raises(GatewayUnavailable):
        await gateway.balance(account, "EUR")


async def test_reversals_are_made_once_per_key_and_never_exceed_the_transfer(client):
    gateway = client.app[CONNECT_GATEWAY]
    account = await onboarded_account(client.app)
    transfer = await gateway.create_transfer(
        destination=account,
        amount=500,
        currency="EUR",
        transfer_group="o",
        source_transaction=None,
        idempotency_key="t",
    )
    reversal = await gateway.reverse_transfer(transfer.transfer_id, amount=500, idempotency_key="r-1")
    assert await gateway.reverse_transfer(transfer.transfer_id, amount=500, idempotency_key="r-1") == reversal
    with pytest.raises(GatewayRefused, match="larger"):
        await gateway.reverse_transfer(transfer.transfer_id, amount=1, idempotency_key="r-2")
    assert (await gateway.balance(account, "EUR")).pending == 0
