"""SQL of payments: the sandbox gateway's books, webhook events received, seller transfers."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg2.extras import Json

from veza.db import Executor, Row

PAYMENT_COLUMNS = "id, status, amount, currency, client_secret, description, metadata, created_at"


async def insert_sandbox_payment(db: Executor, fields: dict[str, Any]) -> Row:
    """The payment of this idempotency key: the one just made, or the one an earlier call made."""
    row = await db.fetch_one(
        f"""
        INSERT INTO sandbox_payments (id, idempotency_key, amount, currency, client_secret, description, metadata)
        VALUES (%(id)s, %(idempotency_key)s, %(amount)s, %(currency)s, %(client_secret)s, %(description)s,
                %(metadata)s)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING {PAYMENT_COLUMNS}
        """,
        {**fields, "metadata": Json(fields["metadata"])},
    )
    if row is not None:
        return row
    return await db.fetch_one(
        f"SELECT {PAYMENT_COLUMNS} FROM sandbox_payments WHERE idempotency_key = %s",
        (fields["idempotency_key"],),
    )


async def sandbox_payment(db: Executor, payment_id: str, *, lock: bool = False) -> Row | None:
    lock_clause = " FOR UPDATE" if lock else ""
    return await db.fetch_one(
        f"SELECT {PAYMENT_COLUMNS} FROM sandbox_payments WHERE id = %s{lock_clause}", (payment_id,)
    )


async def settle_sandbox_payment(db: Executor, payment_id: str, status: str) -> None:
    await db.execute(
        "UPDATE sandbox_payments SET status = %s, updated_at = now() WHERE id = %s AND status <> ALL(%s)",
        (status, payment_id, ["succeeded", "failed"]),
    )


async def insert_sandbox_refund(db: Executor, fields: dict[str, Any]) -> Row:
    row = await db.fetch_one(
        """
        INSERT INTO sandbox_refunds (id, idempotency_key, payment_id, amount, currency, reason, metadata)
        VALUES (%(id)s, %(idempotency_key)s, %(payment_id)s, %(amount)s, %(currency)s, %(reason)s, %(metadata)s)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id, payment_id, status, amount, currency, metadata
        """,
        {**fields, "metadata": Json(fields["metadata"])},
    )
    if row is not None:
        return row
    return await db.fetch_one(
        "SELECT id, payment_id, status, amount, currency, metadata FROM sandbox_refunds WHERE idempotency_key = %s",
        (fields["idempotency_key"],),
    )


async def insert_sandbox_event(db: Executor, event_id: str, event_type: str, body: str) -> None:
    await db.execute(
        "INSERT INTO sandbox_events (event_id, event_type, body) VALUES (%s, %s, %s)", (event_id, event_type, body)
    )


async def sandbox_event(db: Executor, event_id: str) -> Row | None:
    return await db.fetch_one(
        "SELECT event_id, event_type, body, attempts, delivered_at FROM sandbox_events WHERE event_id = %s",
        (event_id,),
    )


async def record_delivery_attempt(db: Executor, event_id: str, *, delivered: bool) -> None:
    await db.execute(
        """
        UPDATE sandbox_events
        SET attempts = attempts + 1, delivered_at = CASE WHEN %s THEN coalesce(delivered_at, now()) END
        WHERE event_id = %s
        """,
        (delivered, event_id),
    )


async def undelivered_sandbox_events(db: Executor, limit: int) -> list[str]:
    rows = await db.fetch_all(
        "SELECT event_id FROM sandbox_events WHERE delivered_at IS NULL ORDER BY created_at LIMIT %s", (limit,)
    )
    return [row["event_id"] for row in rows]


async def insert_webhook_event(
    db: Executor, source: str, event_id: str, event_type: str, payload: dict[str, Any]
) -> bool:
    """Store an event received; False when it was received before (or is being processed right now:
    the insert waits for that transaction, then finds the row)."""
    row = await db.fetch_one(
        """
        INSERT INTO webhook_events (source, event_id, event_type, payload) VALUES (%s, %s, %s, %s)
        ON CONFLICT (source, event_id) DO NOTHING RETURNING event_id
        """,
        (source, event_id, event_type, Json(payload)),
    )
    return row is not None


async def mark_webhook_processed(db: Executor, source: str, event_id: str, outcome: str) -> None:
    await db.execute(
        "UPDATE webhook_events SET processed_at = now(), outcome = %s WHERE source = %s AND event_id = %s",
        (outcome, source, event_id),
    )


async def insert_seller_transfer(
    db: Executor, *, seller_id: UUID, order_id: UUID, amount_cents: int, platform_fee_cents: int, currency: str
) -> UUID | None:
    """The new transfer's id; None if the order already has the seller's transfer."""
    return await db.fetch_val(
        """
        INSERT INTO seller_transfers (seller_id, order_id, amount_cents, platform_fee_cents, currency)
        VALUES (%s, %s, %s, %s, %s) ON CONFLICT (order_id, seller_id) DO NOTHING RETURNING id
        """,
        (seller_id, order_id, amount_cents, platform_fee_cents, currency),
    )
