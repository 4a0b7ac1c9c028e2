"""/webhooks/hyperswitch (signed events) and /payments/sandbox/{payment_id}/confirm (development and tests)."""

from __future__ import annotations

import orjson
from aiohttp import web

from veza.errors import BadRequest, NotFound, PayloadTooLarge, Unauthorized
from veza.http import endpoint, ok, read_body, refuse_unstorable, require_user, unstorable_fields
from veza.keys import SETTINGS
from veza.payments import sandbox, webhooks
from veza.payments.models import ConfirmIn, ConfirmOut, WebhookAck
from veza.payments.signing import SIGNATURE_HEADERS, valid_signature

routes = web.RouteTableDef()

MAX_WEBHOOK_BYTES = 256 * 1024  # a payment or refund event is a few KiB
MAX_GATEWAY_ID = 255


async def webhook_body(request: web.Request) -> bytes:
    if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge()
    raw = await read_body(request)
    if len(raw) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge()
    return raw


@routes.post("/webhooks/hyperswitch")
@endpoint(
    "Hyperswitch's webhook: payment and refund events, signed (HMAC-SHA512 of the body in X-Webhook-Signature-512)",
    response=WebhookAck,
    tags=["payments"],
    errors=[400, 401, 413, 422],
    auth="credential",
)
async def hyperswitch_webhook(request: web.Request) -> web.Response:
    raw = await webhook_body(request)
    signature = next((request.headers[name] for name in SIGNATURE_HEADERS if name in request.headers), None)
    if not valid_signature(request.app[SETTINGS].hyperswitch_webhook_secret, raw, signature):
        raise Unauthorized("Invalid or missing webhook signature", code="invalid_signature")
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Request body is not valid JSON", code="malformed_json") from None
    if not isinstance(payload, dict):
        raise BadRequest("Request body must be a JSON object", code="malformed_json")
    refuse_unstorable(payload)
    await webhooks.receive(request.app, payload)
    return ok(WebhookAck(received=True))


@routes.post("/payments/sandbox/{payment_id}/confirm")
@endpoint(
    "Settle a sandbox payment as its buyer's bank would (not in production): its webhook follows",
    body=ConfirmIn,
    response=ConfirmOut,
    auth="owner",
    tags=["payments"],
    errors=[409],
)
async def confirm_sandbox_payment(request: web.Request, body: ConfirmIn) -> web.Response:
    payment_id = request.match_info["payment_id"]
    if len(payment_id) > MAX_GATEWAY_ID or unstorable_fields(payment_id):
        raise NotFound(sandbox.PAYMENT_NOT_FOUND)  # no gateway makes such an id
    result = await sandbox.confirm(request.app, require_user(request), payment_id, body.outcome)
    return ok(ConfirmOut.model_validate(result))
