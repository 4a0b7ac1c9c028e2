"""Admins' view of the seller transfers: the list, and a retry of a failed transfer now."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from veza.auth.tokens import AuthUser
from veza.errors import Conflict, NotFound
from veza.idempotency import Answer, request_hash, run_once
from veza.keys import DB
from veza.payments import payouts
from veza.payments import transfer_queries as queries
from veza.payments.admin_models import RetriedTransfer

RETRY_SCOPE = "admin.transfers.retry"
TRANSFER_NOT_FOUND = "Transfer not found"


async def retry(app: web.Application, admin: AuthUser, transfer_id: UUID, idempotency_key: str | None) -> Answer:
    """Send a failed or permanently failed transfer at once, whatever its schedule (or, for a paid transfer
    whose reversal failed for good, take it back now): 200 with its new state; the gateway's error (502
    refused, 503 unavailable) when this try failed too (a refusal counts as a try); 409 for a transfer in
    any other state."""
    digest = request_hash({"transfer_id": str(transfer_id)})
    return await run_once(app, admin.id, RETRY_SCOPE, idempotency_key, digest, lambda: _retry(app, transfer_id))


async def _retry(app: web.Application, transfer_id: UUID) -> Answer:
    transfer = await queries.transfer(app[DB], transfer_id)
    if transfer is None:
        raise NotFound(TRANSFER_NOT_FOUND)
    if not payouts.retryable_now(transfer):
        raise Conflict(_why_not(transfer), code="transfer_not_retryable")
    if payouts.reversal_failed_for_good(transfer):
        row = await payouts.reverse_transfer(app, transfer_id, now=True)
    else:
        row = await payouts.send_transfer(app, transfer_id, now=True)
    if row is None:  # moved on meanwhile (another try completed it)
        row = await queries.transfer(app[DB], transfer_id)
    return Answer(200, RetriedTransfer.model_validate(row).model_dump(mode="json"))


def _why_not(transfer: dict) -> str:
    return f"Only a failed transfer can be retried; this one is {transfer['status']}"
