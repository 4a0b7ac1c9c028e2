"""Payouts: each seller's share of a paid order sent on the Connect gateway, retried, reversed.

Sending (`send_transfer`, the SEND_TRANSFER_JOB's work): a `pending` transfer, or a `failed` one whose
retry is due, is sent to the seller's Connect account once they are connected (before that it waits
`pending`: it is queued when they connect, and the sweep picks it up too). The gateway is called
outside any transaction, with an idempotency key made of the row's id and the number of refusals so
far (`gateway_key`): a worker killed mid-call, or a timeout whose outcome is unknown, retries with the
very same key, and the gateway answers that transfer again instead of paying twice; only a definite
refusal, after which nothing was paid, moves the key on (Stripe keeps a key's answer, refusals
included, for 24 hours: the same key would be refused again). Then the row moves by a guarded
`transition`, which applies once. A refund that cancelled the transfer while its send was under way
finds it paid after all: it then goes to `reversal_pending`, and the money is taken back.

Failures: a refusal (GatewayRefused) is a try; the transfer is `failed` with `retry_count + 1` and
`next_retry_at = now + TRANSFER_RETRY_BASE_SECONDS * 2**retry_count`, and after MAX_TRIES refusals
it is `permanently_failed` (the seller and the admins are notified; an admin may retry it). An
unavailable gateway (GatewayUnavailable: an outage, a timeout) is not counted as a try: the transfer
waits `failed` for the same delay without using up its tries, so an outage, however long, never
ends a transfer. Reversals (`reverse_transfer`) follow the same rules with `reversal_retry_count`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from aiohttp import web

from veza.constants import REVERSE_TRANSFER_JOB, SEND_TRANSFER_JOB
from veza.db import Executor, Row, Transaction, transaction
from veza.errors import Conflict
from veza.jobs import enqueue
from veza.keys import CONNECT_GATEWAY, DB, SETTINGS
from veza.notifications.service import notify
from veza.payments import transfer_queries as queries
from veza.payments.gateway import GatewayRefused, GatewayUnavailable
from veza.payments.transfer_queries import transition
from veza.users import queries as user_queries

MAX_TRIES = 5
LOST_AFTER_SECONDS = 60.0  # a pending transfer of a connected seller this old has lost its job


def transfer_job_id(transfer_id: UUID | str, attempt: int) -> str:
    """One job id per attempt: arq refuses a second job with an id it still queues or keeps a result of."""
    return f"transfer:{transfer_id}:{attempt}"


def reversal_job_id(transfer_id: UUID | str, attempt: int) -> str:
    return f"reversal:{transfer_id}:{attempt}"


async def queue_transfer(app: web.Application, transfer_id: UUID | str, attempt: int = 0) -> None:
    await enqueue(app, SEND_TRANSFER_JOB, str(transfer_id), job_id=transfer_job_id(transfer_id, attempt))


async def queue_reversal(app: web.Application, transfer_id: UUID | str, attempt: int = 0) -> None:
    await enqueue(app, REVERSE_TRANSFER_JOB, str(transfer_id), job_id=reversal_job_id(transfer_id, attempt))


def gateway_key(kind: str, transfer_id: UUID, refusals: int) -> str:
    """The idempotency key of a transfer's (or reversal's) call: the same until the gateway refuses it."""
    return f"{kind}-{transfer_id}" if refusals == 0 else f"{kind}-{transfer_id}-{refusals}"


def retry_delay(app: web.Application, retry_count: int) -> timedelta:
    """How long a transfer that had failed `retry_count` times before this failure waits: the base, doubled
    for each earlier failure."""
    return timedelta(seconds=app[SETTINGS].transfer_retry_base_seconds * 2**retry_count)


def retryable_now(transfer: Row) -> bool:
    """Whether an admin may try the transfer again at once: failed, or permanently failed (sending it, or,
    when it was paid, taking it back)."""
    return transfer["status"] in ("failed", "permanently_failed")


def reversal_failed_for_good(transfer: Row) -> bool:
    """A permanently failed transfer that was paid: what failed for good is its reversal."""
    return transfer["status"] == "permanently_failed" and transfer["gateway_transfer_id"] is not None


async def send_transfer(app: web.Application, transfer_id: UUID, *, now: bool = False) -> Row | None:
    """Send the transfer if it is due; the row as it ends, or None when there was nothing to send.

    `now` is an admin's retry: a failed or permanently failed transfer is sent whatever its schedule,
    and a failure is raised (the gateway's 502 or 503) once recorded, as is a seller not connected (409).
    """
    db = app[DB]
    transfer = await queries.transfer(db, transfer_id)
    if transfer is None:
        return None
    due = transfer["status"] == "pending" or (transfer["status"] == "failed" and transfer["due"])
    if not (due or (now and retryable_now(transfer))):
        return None
    account_id = await queries.connected_account(db, transfer["seller_id"])
    if account_id is None:
        if now:
            raise Conflict("The seller has no connected payout account: the transfer waits for it")
        return transfer  # it waits for the seller's onboarding
    try:
        sent = await app[CONNECT_GATEWAY].create_transfer(
            destination=account_id,
            amount=transfer["amount_cents"],
            currency=transfer["currency"],
            transfer_group=str(transfer["order_id"]),
            source_transaction=None,  # buyers pay through the payment gateway: no charge of the Connect platform
            idempotency_key=gateway_key("transfer", transfer_id, transfer["retry_count"]),
        )
    except (GatewayRefused, GatewayUnavailable) as exc:
        row = await _transfer_failed(app, transfer, exc)
        if now:
            raise
        return row
    async with transaction(db) as tx:
        done = await transition(
            tx,
            transfer_id,
            "completed",
            only_from=frozenset({transfer["status"]}),
            gateway_transfer_id=sent.transfer_id,
            next_retry_at=None,
            last_error=None,
        )
        if done is None and await transition(
            tx, transfer_id, "reversal_pending", only_from=frozenset({"cancelled"}),
            gateway_transfer_id=sent.transfer_id, next_retry_at=None,
        ):  # fmt: skip
            tx.after_commit(queue_reversal, app, transfer_id, transfer["reversal_retry_count"])
        if done is not None:
            await notify(
                app,
                transfer["seller_id"],
                "transfer.completed",
                "Your payout is on its way",
                f"{_money(transfer)} from an order were sent to your payout account.",
                _data(transfer),
                tx=tx,
            )
    return done or await queries.transfer(db, transfer_id)


async def _transfer_failed(app: web.Application, transfer: Row, exc: Exception) -> Row | None:
    failures = transfer["retry_count"] + (1 if isinstance(exc, GatewayRefused) else 0)
    async with transaction(app[DB]) as tx:
        if failures >= MAX_TRIES or transfer["status"] == "permanently_failed":  # or an admin's retry failed
            row = await transition(
                tx, transfer["id"], "permanently_failed", only_from=frozenset({transfer["status"]}),
                retry_count=failures, last_error=str(exc), next_retry_at=None,
            )  # fmt: skip
            if row is not None and transfer["status"] != "permanently_failed":
                await _notify_given_up(app, tx, row, "transfer", notify_seller=True)
        else:
            row = await transition(
                tx, transfer["id"], "failed", only_from=frozenset({transfer["status"]}), retry_count=failures,
                last_error=str(exc), next_retry_at=await _later(tx, retry_delay(app, transfer["retry_count"])),
            )  # fmt: skip
    return row


async def reverse_transfer(app: web.Application, transfer_id: UUID, *, now: bool = False) -> Row | None:
    """Take back a refunded order's transfer (`reversal_pending`, its retry due); the row as it ends, or None.

    `now` is an admin's retry of a reversal that failed for good: it is tried at once, and a failure is
    raised (the gateway's 502 or 503) once recorded.
    """
    db = app[DB]
    if now and not await transition(
        db, transfer_id, "reversal_pending", only_from=frozenset({"permanently_failed"}), next_retry_at=None
    ):
        return None
    transfer = await queries.transfer(db, transfer_id)
    if transfer is None or transfer["status"] != "reversal_pending" or not transfer["due"]:
        return None
    try:
        reversal = await app[CONNECT_GATEWAY].reverse_transfer(
            transfer["gateway_transfer_id"],
            amount=transfer["amount_cents"],
            idempotency_key=gateway_key("reversal", transfer_id, transfer["reversal_retry_count"]),
        )
    except (GatewayRefused, GatewayUnavailable) as exc:
        row = await _reversal_failed(app, transfer, exc, given_up_before=now)
        if now:
            raise
        return row
    return await transition(
        db, transfer_id, "reversed", gateway_reversal_id=reversal.reversal_id, next_retry_at=None, last_error=None
    )


async def _reversal_failed(app: web.Application, transfer: Row, exc: Exception, *, given_up_before: bool) -> Row | None:
    failures = transfer["reversal_retry_count"] + (1 if isinstance(exc, GatewayRefused) else 0)
    async with transaction(app[DB]) as tx:
        if failures >= MAX_TRIES or given_up_before:  # or an admin's retry failed again
            row = await transition(
                tx, transfer["id"], "permanently_failed", only_from=frozenset({"reversal_pending"}),
                reversal_retry_count=failures, last_error=str(exc), next_retry_at=None,
            )  # fmt: skip
            if row is not None and not given_up_before:
                await _notify_given_up(app, tx, row, "reversal", notify_seller=False)
        else:
            row = await transition(
                tx, transfer["id"], "reversal_pending", only_from=frozenset({"reversal_pending"}),
                reversal_retry_count=failures, last_error=str(exc),
                next_retry_at=await _later(tx, retry_delay(app, transfer["reversal_retry_count"])),
            )  # fmt: skip
    return row


async def _later(tx: Executor, delay: timedelta) -> datetime:
    """The database's now plus `delay`: due times compare with the database's clock."""
    return await tx.fetch_val("SELECT now() + %s", (delay,))


def _money(transfer: Row) -> str:
    return f"{transfer['amount_cents'] / 100:.2f} {transfer['currency']}"


def _data(transfer: Row) -> dict:
    return {
        "transfer_id": str(transfer["id"]),
        "order_id": str(transfer["order_id"]),
        "amount_cents": transfer["amount_cents"],
        "currency": transfer["currency"],
    }


async def _notify_given_up(
    app: web.Application, tx: Transaction, transfer: Row, what: str, *, notify_seller: bool
) -> None:
    if notify_seller:
        await notify(
            app,
            transfer["seller_id"],
            "transfer.failed",
            "Your payout could not be sent",
            f"We could not send you {_money(transfer)}; our team is looking into it.",
            _data(transfer),
            tx=tx,
        )
    for admin_id in await user_queries.admin_ids(tx):
        await notify(
            app,
            admin_id,
            f"{what}.permanently_failed",
            f"A seller {what} failed for good",
            f"The {what} of {_money(transfer)} failed {MAX_TRIES} times: {transfer['last_error']}",
            {**_data(transfer), "seller_id": str(transfer["seller_id"])},
            tx=tx,
        )


async def queue_due(app: web.Application) -> dict[str, int]:
    """The sweep: queue every transfer and reversal whose try is due, each under its attempt's job id."""
    db, retries = app[DB], app[SETTINGS].transfer_retry_enabled
    transfers = await queries.transfers_to_send(db, retries=retries, lost_after_seconds=LOST_AFTER_SECONDS)
    for row in transfers:
        await queue_transfer(app, row["id"], row["retry_count"])
    reversals = await queries.reversals_to_send(db, retries=retries)
    for row in reversals:
        await queue_reversal(app, row["id"], row["reversal_retry_count"])
    return {"transfers": len(transfers), "reversals": len(reversals)}
