"""The seller transfers' states, and the one way to change them: a guarded UPDATE.

    pending            -> completed | failed | cancelled
    failed             -> completed | failed | permanently_failed | cancelled
    permanently_failed -> completed | permanently_failed | reversal_pending | cancelled
    completed          -> reversal_pending     (the order was refunded)
    reversal_pending   -> reversed | reversal_pending | permanently_failed
    cancelled          -> reversal_pending     (it was paid after all: see below)

`failed -> failed` is a retry that failed again; `reversal_pending -> reversal_pending` a reversal
that failed and waits for its next try. From `permanently_failed` an admin's retry completes the
transfer, fails again, or, for a reversal that had failed for good, tries the reversal again.
`cancelled` is a transfer that was never paid when its order was refunded: there is nothing to take
back, and an admin's retry must not pay it then. Only when a send already under way when the refund
cancelled it turns out to have paid (the gateway answered after the refund settled) does a cancelled
transfer move on, to `reversal_pending`, so that the money is taken back.
Every other change is refused: `transition` changes a row only from a state that allows the
change, so concurrent workers and webhooks apply each change once, and a caller learns whether it
was its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from veza.db import Executor, Row, set_clause

TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"completed", "failed", "cancelled"}),
    "failed": frozenset({"completed", "failed", "permanently_failed", "cancelled"}),
    "permanently_failed": frozenset({"completed", "permanently_failed", "reversal_pending", "cancelled"}),
    "completed": frozenset({"reversal_pending"}),
    "reversal_pending": frozenset({"reversed", "reversal_pending", "permanently_failed"}),
    "reversed": frozenset(),
    "cancelled": frozenset({"reversal_pending"}),
}
STATES = frozenset(TRANSITIONS)
UPDATABLE = frozenset(
    {"retry_count", "next_retry_at", "gateway_transfer_id", "last_error", "reversal_retry_count", "gateway_reversal_id"}
)


def sources(target: str) -> list[str]:
    """The states a transfer may reach `target` from."""
    return sorted(state for state, targets in TRANSITIONS.items() if target in targets)


async def lock_order_transfers(db: Executor, order_id: UUID) -> list[Row]:
    """The order's transfers, locked until the transaction ends: none changes between our read and our change."""
    return await db.fetch_all(
        "SELECT id, seller_id, status FROM seller_transfers WHERE order_id = %s ORDER BY id FOR UPDATE", (order_id,)
    )


async def transition(
    db: Executor, transfer_id: UUID, target: str, *, only_from: frozenset[str] | None = None, **fields: Any
) -> Row | None:
    """Move the transfer to `target` (and set `fields`) if its state allows it, and `only_from` when given;
    the updated row, or None when the transfer is in no such state (someone else moved it first)."""
    if target not in STATES:
        raise ValueError(f"no such transfer state: {target}")
    allowed = sources(target) if only_from is None else sorted(set(sources(target)) & only_from)
    return await db.fetch_one(
        f"""
        UPDATE seller_transfers SET {set_clause(fields, UPDATABLE)}, status = %(target)s
        WHERE id = %(id)s AND status = ANY(%(allowed)s)
        RETURNING *
        """,
        {**fields, "target": target, "id": transfer_id, "allowed": allowed},
    )


TRANSFER_COLUMNS = (
    "id, seller_id, order_id, amount_cents, platform_fee_cents, currency, status, retry_count, next_retry_at, "
    "created_at"
)
ADMIN_TRANSFER_COLUMNS = f"{TRANSFER_COLUMNS}, last_error"


async def transfer(db: Executor, transfer_id: UUID) -> Row | None:
    """The transfer, with `due`: whether its next try may run now (no retry scheduled, or one that is due)."""
    return await db.fetch_one(
        "SELECT *, coalesce(next_retry_at <= now(), true) AS due FROM seller_transfers WHERE id = %s",
        (transfer_id,),
    )


async def connected_account(db: Executor, seller_id: UUID) -> str | None:
    """The seller's Connect account id once onboarding is done; None while transfers to them must wait."""
    return await db.fetch_val("SELECT account_id FROM connect_accounts WHERE user_id = %s AND connected", (seller_id,))


async def transfers_to_send(db: Executor, *, retries: bool, lost_after_seconds: float) -> list[Row]:
    """Transfers whose job is due: failed ones whose retry is due (with `retries`), and pending ones of
    connected sellers older than `lost_after_seconds` (their job was lost: a process died before or
    after queuing it)."""
    return await db.fetch_all(
        """
        SELECT t.id, t.retry_count FROM seller_transfers t
        WHERE (%(retries)s AND t.status = 'failed' AND t.next_retry_at <= now())
           OR (t.status = 'pending' AND t.created_at <= now() - make_interval(secs => %(lost)s)
               AND EXISTS (SELECT FROM connect_accounts a WHERE a.user_id = t.seller_id AND a.connected))
        ORDER BY t.created_at, t.id
        """,
        {"retries": retries, "lost": lost_after_seconds},
    )


async def reversals_to_send(db: Executor, *, retries: bool) -> list[Row]:
    """Reversals whose job is due: never tried, or (with `retries`) failed and due again."""
    return await db.fetch_all(
        """
        SELECT id, reversal_retry_count FROM seller_transfers
        WHERE status = 'reversal_pending'
          AND (next_retry_at IS NULL OR (%(retries)s AND next_retry_at <= now()))
        ORDER BY created_at, id
        """,
        {"retries": retries},
    )


async def transfers_page(
    db: Executor,
    *,
    status: str | None,
    seller_id: UUID | None,
    created_from: datetime | None,
    created_before: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[Row], int]:
    """Every seller's transfers, newest first, filtered by status, seller and a [from, before) creation range."""
    filters = {
        "status = %(status)s": status,
        "seller_id = %(seller_id)s": seller_id,
        "created_at >= %(created_from)s": created_from,
        "created_at < %(created_before)s": created_before,
    }
    where = " AND ".join([condition for condition, value in filters.items() if value is not None] or ["true"])
    return await db.fetch_page(
        ADMIN_TRANSFER_COLUMNS,
        f"seller_transfers WHERE {where}",
        {"status": status, "seller_id": seller_id, "created_from": created_from, "created_before": created_before},
        order_by="created_at DESC, id",
        limit=limit,
        offset=offset,
    )


async def export_transfers(db: Executor, user_id: UUID, after: UUID, limit: int) -> list[Row]:
    """The seller's transfers after id `after` (the data export)."""
    return await db.fetch_all(
        """
        SELECT id, order_id, amount_cents, platform_fee_cents, currency, status, gateway_transfer_id,
               created_at, updated_at
        FROM seller_transfers WHERE seller_id = %s AND id > %s ORDER BY id LIMIT %s
        """,
        (user_id, after, limit),
    )


async def unsettled_count(db: Executor, seller_id: UUID) -> int:
    """The seller's transfers still to be paid, retried or reversed."""
    return await db.fetch_val(
        """
        SELECT count(*) FROM seller_transfers
        WHERE seller_id = %s AND status IN ('pending', 'failed', 'reversal_pending')
        """,
        (seller_id,),
    )
