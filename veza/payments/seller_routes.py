"""/sell: a seller's payout account (onboarding), balance and payout history; Stripe's webhook."""

from __future__ import annotations

import orjson
from aiohttp import web

from veza.errors import BadRequest, NotFound
from veza.http import endpoint, ok, refuse_unstorable, require_user
from veza.keys import DB, SETTINGS
from veza.payments import queries, sellers, stripe_webhooks
from veza.payments.models import WebhookAck
from veza.payments.routes import webhook_body
from veza.payments.seller_models import (
    BalanceOut,
    BalanceQuery,
    OnboardingOut,
    SandboxOnboardingOut,
    SandboxOnboardingQuery,
    SellerTransferList,
    TransfersQuery,
)

routes = web.RouteTableDef()


@routes.post("/sell/connect/onboard")
@endpoint(
    "The URL of the payout account's onboarding form (the account is made on the first call)",
    response=OnboardingOut,
    auth="user",
    tags=["seller"],
    errors=[429, 502],
)
async def onboard(request: web.Request) -> web.Response:
    url = await sellers.onboarding_url(request.app, require_user(request).id)
    return ok(OnboardingOut(onboarding_url=url))


@routes.get("/sell/connect/sandbox/complete")
@endpoint(
    "The sandbox's onboarding link (CONNECT_GATEWAY=sandbox only): opening it completes onboarding",
    query=SandboxOnboardingQuery,
    response=SandboxOnboardingOut,
    tags=["seller"],
    errors=[404, 410],
    auth="credential",
)
async def complete_sandbox_onboarding(request: web.Request, query: SandboxOnboardingQuery) -> web.Response:
    if request.app[SETTINGS].connect_gateway != "sandbox":
        raise NotFound()
    await sellers.complete_sandbox_onboarding(request.app, query.account, query.expires, query.signature)
    message = "Onboarding complete, you can close this tab"
    return ok(SandboxOnboardingOut(account_id=query.account, connected=True, message=message))


@routes.get("/sell/balance")
@endpoint(
    "The seller's balance on their payout account, in cents (zeros until onboarding is done)",
    query=BalanceQuery,
    response=BalanceOut,
    auth="user",
    tags=["seller"],
    errors=[502],
)
async def balance(request: web.Request, query: BalanceQuery) -> web.Response:
    return ok(BalanceOut.model_validate(await sellers.balance(request.app, require_user(request).id, query.currency)))


@routes.get("/sell/transfers")
@endpoint(
    "The seller's payout history: one transfer per order they sold in, newest first",
    query=TransfersQuery,
    response=SellerTransferList,
    auth="user",
    tags=["seller"],
)
async def transfers(request: web.Request, query: TransfersQuery) -> web.Response:
    rows, total = await queries.seller_transfers(
        request.app[DB], require_user(request).id, limit=query.limit, offset=query.offset
    )
    return ok(SellerTransferList(transfers=rows, total=total))


@routes.post("/webhooks/stripe")
@endpoint(
    "Stripe's webhook (Connect events), signed in Stripe-Signature with STRIPE_WEBHOOK_SECRET",
    response=WebhookAck,
    tags=["payments"],
    errors=[400, 401, 413, 422],
    auth="credential",
)
async def stripe_webhook(request: web.Request) -> web.Response:
    raw = await webhook_body(request)
    secret = request.app[SETTINGS].stripe_webhook_secret
    stripe_webhooks.verify(secret, raw, request.headers.get(stripe_webhooks.SIGNATURE_HEADER))
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Request body is not valid JSON", code="malformed_json") from None
    if not isinstance(payload, dict):
        raise BadRequest("Request body must be a JSON object", code="malformed_json")
    refuse_unstorable(payload)
    await stripe_webhooks.receive(request.app, payload)
    return ok(WebhookAck(received=True))
