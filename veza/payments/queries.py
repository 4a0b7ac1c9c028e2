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


REFUND_COLUMNS = "id, payment_id, status, amount, currency, reason, metadata, created_at, updated_at"


async def sandbox_refund_for_key(db: Executor, idempotency_key: str) -> Row | None:
    return await db.fetch_one(
        f"SELECT {REFUND_COLUMNS} FROM sandbox_refunds WHERE idempotency_key = %s", (idempotency_key,)
    )


async def sandbox_refunded(db: Executor, payment_id: str) -> int:
    """The part of the payment given back or on its way back (failed refunds aside)."""
    return await db.fetch_val(
        "SELECT coalesce(sum(amount), 0)::bigint FROM sandbox_refunds WHERE payment_id = %s AND status <> 'failed'",
        (payment_id,),
    )


async def insert_sandbox_refund(db: Executor, fields: dict[str, Any]) -> Row:
    return await db.fetch_one(
        f"""
        INSERT INTO sandbox_refunds (id, idempotency_key, payment_id, amount, currency, status, reason, metadata)
        VALUES (%(id)s, %(idempotency_key)s, %(payment_id)s, %(amount)s, %(currency)s, %(status)s, %(reason)s,
                %(metadata)s)
        RETURNING {REFUND_COLUMNS}
        """,
        {**fields, "metadata": Json(fields["metadata"])},
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


# Sellers' Connect accounts and their payout history.

SELLER_TRANSFER_COLUMNS = (
    "id, seller_id, order_id, amount_cents, platform_fee_cents, currency, status, retry_count, next_retry_at, "
    "created_at"
)


async def connect_account(db: Executor, user_id: UUID) -> Row | None:
    return await db.fetch_one(
        "SELECT user_id, gateway, account_id, connected, connected_at FROM connect_accounts WHERE user_id = %s",
        (user_id,),
    )


async def insert_connect_account(db: Executor, user_id: UUID, gateway: str, account_id: str, connected: bool) -> None:
    await db.execute(
        """
        INSERT INTO connect_accounts (user_id, gateway, account_id, connected, connected_at)
        VALUES (%s, %s, %s, %s, CASE WHEN %s THEN now() END)
        """,
        (user_id, gateway, account_id, connected, connected),
    )


async def lock_connect_account_creation(db: Executor, user_id: UUID) -> None:
    """Until the transaction ends, this user's other first onboardings wait (one account per user)."""
    await db.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"connect-account:{user_id}",))


async def connect_account_by_gateway_id(db: Executor, account_id: str) -> Row | None:
    return await db.fetch_one(
        "SELECT user_id, gateway, account_id, connected, connected_at FROM connect_accounts WHERE account_id = %s",
        (account_id,),
    )


async def mark_account_connected(db: Executor, account_id: str) -> Row | None:
    """Mark the account connected; its row if this call did it, None when it was connected already (or unknown)."""
    return await db.fetch_one(
        """
        UPDATE connect_accounts SET connected = true, connected_at = now(), updated_at = now()
        WHERE account_id = %s AND NOT connected
        RETURNING user_id, account_id, connected_at
        """,
        (account_id,),
    )


async def pending_transfers_of_seller(db: Executor, seller_id: UUID) -> list[Row]:
    """The seller's transfers that wait to be sent (`pending`), oldest first, with their attempt count."""
    return await db.fetch_all(
        "SELECT id, retry_count FROM seller_transfers WHERE seller_id = %s AND status = 'pending' "
        "ORDER BY created_at, id",
        (seller_id,),
    )


async def seller_transfers(db: Executor, seller_id: UUID, *, limit: int, offset: int) -> tuple[list[Row], int]:
    """The seller's payout history, newest first."""
    return await db.fetch_page(
        SELLER_TRANSFER_COLUMNS,
        "seller_transfers WHERE seller_id = %(seller)s",
        {"seller": seller_id},
        order_by="created_at DESC, id",
        limit=limit,
        offset=offset,
    )
