"""Sellers and their payouts: the Connect account (onboarding), the balance, the payout history, and
the moment a seller becomes connected.

A seller gets one account on the Connect gateway, made on their first onboarding with an idempotency
key derived from their id; concurrent first onboardings queue on a lock of that user, so only one
account is ever made. The seller is connected when the gateway says onboarding is done: Stripe's
`account.updated` webhook, or, on the sandbox, opening the signed onboarding link. Both go through
`mark_connected`, which also sends the transfers that were waiting for it.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from aiohttp import web

from veza.db import Row, Transaction, transaction
from veza.errors import Gone, NotFound
from veza.keys import CONNECT_GATEWAY, DB, REDIS, SETTINGS
from veza.notifications.service import notify
from veza.payments import queries
from veza.payments.payouts import queue_transfer
from veza.payments.sandbox_connect import SandboxConnect, expired_onboarding_link, valid_onboarding_link
from veza.ratelimit import limit
from veza.users.queries import get_user

ONBOARDINGS_PER_MINUTE = 10  # each makes a Stripe account link: a browser needs one, a retry or two more
# Pages of the browser client that Stripe sends the seller back to: `refresh` when the link expired
# or was used (the page asks for a new one), `done` when they left the onboarding form.
ONBOARDING_PAGE = "/sell/payouts"
_SIGNATURE = re.compile(r"[0-9a-f]{1,128}")
_EXPIRES = re.compile(r"[0-9]{1,12}")


def account_idempotency_key(user_id: UUID) -> str:
    return f"connect-account-{user_id}"


async def onboarding_url(app: web.Application, user_id: UUID) -> str:
    """The URL where the seller fills in the gateway's onboarding form (their account is made on the first call)."""
    await limit(app[REDIS], "connect-onboard", str(user_id), max_hits=ONBOARDINGS_PER_MINUTE, per=60)
    account = await _account(app, user_id)
    page = app[SETTINGS].public_url.rstrip("/") + ONBOARDING_PAGE
    return await app[CONNECT_GATEWAY].onboarding_link(
        account["account_id"], refresh_url=f"{page}?onboarding=refresh", return_url=f"{page}?onboarding=done"
    )


async def _account(app: web.Application, user_id: UUID) -> Row:
    """The seller's Connect account, made at the gateway and recorded the first time."""
    account = await queries.connect_account(app[DB], user_id)
    if account is not None:
        return account
    gateway = app[CONNECT_GATEWAY]
    async with transaction(app[DB]) as tx:
        await queries.lock_connect_account_creation(tx, user_id)
        account = await queries.connect_account(tx, user_id)
        if account is None:  # not made by a concurrent call while this one waited for the lock
            user = await get_user(tx, user_id)
            made = await gateway.create_account(email=user["email"], idempotency_key=account_idempotency_key(user_id))
            await queries.insert_connect_account(tx, user_id, gateway.name, made.account_id, made.connected)
            account = await queries.connect_account(tx, user_id)
    return account


async def balance(app: web.Application, user_id: UUID, currency: str) -> dict[str, Any]:
    """What the gateway holds for the seller, in cents; zeros until they are connected."""
    account = await queries.connect_account(app[DB], user_id)
    if account is None or not account["connected"]:
        return {"connected": False, "available": 0, "pending": 0}
    funds = await app[CONNECT_GATEWAY].balance(account["account_id"], currency)
    return {"connected": True, "available": funds.available, "pending": funds.pending}


async def mark_connected(tx: Transaction, app: web.Application, account_id: str) -> str:
    """The account's seller can be paid: marked connected once, and after commit their waiting (`pending`)
    transfers are queued and they are told. The outcome, as webhook events record it."""
    row = await queries.mark_account_connected(tx, account_id)
    if row is None:
        known = await queries.connect_account_by_gateway_id(tx, account_id)
        return "ignored: no such account" if known is None else "ignored: connected already"
    seller_id = row["user_id"]
    for transfer in await queries.pending_transfers_of_seller(tx, seller_id):
        tx.after_commit(queue_transfer, app, transfer["id"], transfer["retry_count"])
    await notify(
        app,
        seller_id,
        "payouts.connected",
        "Payouts are on",
        "Your payout account is ready: your sales are now paid out to it.",
        {"account_id": account_id},
        tx=tx,
    )
    return "applied: seller connected"


async def complete_sandbox_onboarding(app: web.Application, account: str, expires: str, signature: str) -> None:
    """What opening the sandbox's onboarding link does: onboarding done, the seller connected as Stripe's
    webhook would. 404 for a link we did not make, 410 for one of ours that expired."""
    gateway = app[CONNECT_GATEWAY]
    settings = app[SETTINGS]
    if not isinstance(gateway, SandboxConnect):
        raise NotFound()
    if not (_SIGNATURE.fullmatch(signature) and _EXPIRES.fullmatch(expires)):
        raise NotFound("No such onboarding link")
    if not valid_onboarding_link(settings, account, expires, signature):
        if expired_onboarding_link(settings, account, expires, signature):
            raise Gone("This onboarding link has expired: ask for a new one", code="link_expired")
        raise NotFound("No such onboarding link")
    await gateway.complete_onboarding(account)
    async with transaction(app[DB]) as tx:
        if await queries.connect_account_by_gateway_id(tx, account) is None:
            raise NotFound("No such onboarding link")
        await mark_connected(tx, app, account)
