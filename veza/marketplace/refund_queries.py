"""SQL of refunds: the order they refund, their states, and what a settled refund takes back."""

from __future__ import annotations

from uuid import UUID

from veza.db import Executor, Row
from veza.marketplace.order_queries import ORDER_NOT_FOUND

REFUND_WINDOW_DAYS = 14
REFUND_COLUMNS = "id, order_id, requested_by, amount_cents, currency, status, gateway_refund_id, created_at"


async def order_to_refund(db: Executor, order_id: UUID, user_id: UUID) -> Row:
    """The order if `user_id` bought it or sells one of its items, locked until the transaction ends."""
    return await db.fetch_found(
        f"""
        SELECT o.id, o.buyer_id, o.status, o.total_cents, o.currency, o.payment_id, o.paid_at,
               o.paid_at > now() - interval '{REFUND_WINDOW_DAYS} days' AS refundable_yet
        FROM orders o
        WHERE o.id = %(id)s AND (o.buyer_id = %(user)s
            OR EXISTS (SELECT 1 FROM order_items s WHERE s.order_id = o.id AND s.seller_id = %(user)s))
        FOR UPDATE OF o
        """,
        {"id": order_id, "user": user_id},
        ORDER_NOT_FOUND,
    )


async def insert_refund(db: Executor, order: Row, requested_by: UUID, reason: str, details: str) -> UUID:
    return await db.fetch_val(
        """
        INSERT INTO refunds (order_id, requested_by, reason, details, amount_cents, currency)
        VALUES (%s, %s, %s, %s, %s, %s) RETURNING id
        """,
        (order["id"], requested_by, reason, details, order["total_cents"], order["currency"]),
    )


async def set_order_status(db: Executor, order_id: UUID, target: str, source: str) -> bool:
    """source -> target, only from `source` (guarded: concurrent callers change it once)."""
    return bool(
        await db.execute(
            "UPDATE orders SET status = %s, updated_at = now() WHERE id = %s AND status = %s",
            (target, order_id, source),
        )
    )


async def set_gateway_refund_id(db: Executor, refund_id: UUID, gateway_refund_id: str) -> None:
    await db.execute(
        "UPDATE refunds SET gateway_refund_id = %s, updated_at = now() WHERE id = %s AND gateway_refund_id IS NULL",
        (gateway_refund_id, refund_id),
    )


async def refund_for_gateway(db: Executor, gateway_refund_id: str, refund_id: UUID | None) -> Row | None:
    """The refund the gateway names by its own id, or by ours (its metadata) when its id is not stored yet."""
    return await db.fetch_one(
        f"""
        SELECT {REFUND_COLUMNS} FROM refunds
        WHERE gateway_refund_id = %s OR (id = %s AND gateway_refund_id IS NULL)
        ORDER BY gateway_refund_id NULLS LAST LIMIT 1
        """,
        (gateway_refund_id, refund_id),
    )


async def lock_refund(db: Executor, refund_id: UUID) -> Row:
    return await db.fetch_one(f"SELECT {REFUND_COLUMNS} FROM refunds WHERE id = %s FOR UPDATE", (refund_id,))


async def lock_order(db: Executor, order_id: UUID) -> Row:
    return await db.fetch_one(
        "SELECT id, buyer_id, status, total_cents, currency, payment_id FROM orders WHERE id = %s FOR UPDATE",
        (order_id,),
    )


async def settle_refund(db: Executor, refund_id: UUID, target: str, sources: list[str], gateway_refund_id: str) -> bool:
    """A refund `succeeded` or `failed`, from one of `sources` (guarded); its gateway id kept."""
    return bool(
        await db.execute(
            """
            UPDATE refunds
            SET status = %s, settled_at = now(), updated_at = now(),
                gateway_refund_id = coalesce(gateway_refund_id, %s)
            WHERE id = %s AND status = ANY(%s)
            """,
            (target, gateway_refund_id, refund_id, sources),
        )
    )


async def fail_unsent(db: Executor, refund_id: UUID) -> bool:
    """A pending refund the gateway refused outright: failed (it never reached the gateway's books)."""
    return bool(
        await db.execute(
            "UPDATE refunds SET status = 'failed', settled_at = now(), updated_at = now() "
            "WHERE id = %s AND status = 'pending'",
            (refund_id,),
        )
    )


async def revoke_licenses(db: Executor, order_id: UUID) -> int:
    return await db.execute(
        "UPDATE licenses SET status = 'revoked', revoked_at = now() WHERE order_id = %s AND status = 'active'",
        (order_id,),
    )


async def remove_sales(db: Executor, order_id: UUID) -> None:
    """Take the order's items off their products' sales counts (products locked in id order, as checkout does)."""
    for item in await db.fetch_all(
        "SELECT product_id, quantity FROM order_items WHERE order_id = %s ORDER BY product_id", (order_id,)
    ):
        await db.execute(
            "UPDATE products SET sales_count = greatest(sales_count - %s, 0) WHERE id = %s",
            (item["quantity"], item["product_id"]),
        )


async def order_sellers(db: Executor, order_id: UUID) -> list[UUID]:
    rows = await db.fetch_all(
        "SELECT DISTINCT seller_id FROM order_items WHERE order_id = %s ORDER BY seller_id", (order_id,)
    )
    return [row["seller_id"] for row in rows]


async def unsent_refunds(db: Executor, older_than_seconds: float, limit: int) -> list[Row]:
    """Pending refunds the gateway never acknowledged (it was down, or the process died before asking)."""
    return await db.fetch_all(
        """
        SELECT r.id, r.order_id, r.amount_cents, r.reason, o.payment_id
        FROM refunds r JOIN orders o ON o.id = r.order_id
        WHERE r.status = 'pending' AND r.gateway_refund_id IS NULL
          AND r.created_at < now() - make_interval(secs => %s)
        ORDER BY r.created_at LIMIT %s
        """,
        (older_than_seconds, limit),
    )


async def export_refunds(db: Executor, user_id: UUID, after: UUID, limit: int) -> list[Row]:
    """The refunds the user asked for, after id `after` (the data export)."""
    return await db.fetch_all(
        """
        SELECT id, order_id, reason, details, amount_cents, currency, status, created_at, updated_at, settled_at
        FROM refunds WHERE requested_by = %s AND id > %s ORDER BY id LIMIT %s
        """,
        (user_id, after, limit),
    )
