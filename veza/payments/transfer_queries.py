"""The seller transfers' states, and the one way to change them: a guarded UPDATE.

    pending            -> completed | failed | cancelled
    failed             -> completed | failed | permanently_failed | cancelled
    permanently_failed -> completed | cancelled (an admin's retry; the order refunded)
    completed          -> reversal_pending     (the order was refunded)
    reversal_pending   -> reversed | reversal_pending | permanently_failed

`failed -> failed` is a retry that failed again; `reversal_pending -> reversal_pending` a reversal
that failed and waits for its next try. `cancelled` is a transfer that was never paid when its
order was refunded: there is nothing to take back, and an admin's retry must not pay it then.
Every other change is refused: `transition` changes a row only from a state that allows the
change, so concurrent workers and webhooks apply each change once, and a caller learns whether it
was its own.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from veza.db import Executor, Row, set_clause

TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"completed", "failed", "cancelled"}),
    "failed": frozenset({"completed", "failed", "permanently_failed", "cancelled"}),
    "permanently_failed": frozenset({"completed", "cancelled"}),
    "completed": frozenset({"reversal_pending"}),
    "reversal_pending": frozenset({"reversed", "reversal_pending", "permanently_failed"}),
    "reversed": frozenset(),
    "cancelled": frozenset(),
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
