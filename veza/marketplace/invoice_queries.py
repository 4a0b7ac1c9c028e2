"""SQL for invoices."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from veza.db import Executor, Row
from veza.users.queries import summary_json


async def issue_invoice(tx: Executor, order_id: UUID) -> None:
    """Give a completed order the next invoice number of the year; call it in the transaction that
    completes the order, so that a rollback gives the number back and numbers run without gaps."""
    await tx.execute(
        """
        WITH taken AS (
            INSERT INTO invoice_counters AS c (year, last_number)
            VALUES (extract(year FROM now() AT TIME ZONE 'UTC')::int, 1)
            ON CONFLICT (year) DO UPDATE SET last_number = c.last_number + 1
            RETURNING year, last_number
        )
        INSERT INTO invoices (order_id, year, number) SELECT %s, year, last_number FROM taken
        """,
        (order_id,),
    )


# An order has an invoice once paid; it keeps it through a refund.
INVOICED_STATUSES = ("completed", "refund_pending", "refunded")


async def get_invoice(db: Executor, order_id: UUID) -> Row:
    return await db.fetch_found("SELECT * FROM invoices WHERE order_id = %s", (order_id,), "Invoice not found")


async def lock_invoice(tx: Executor, order_id: UUID) -> Row:
    """The invoice row, locked until the transaction ends: whoever renders its PDF holds it."""
    return await tx.fetch_found(
        "SELECT * FROM invoices WHERE order_id = %s FOR UPDATE", (order_id,), "Invoice not found"
    )


async def mark_stored(tx: Executor, invoice_id: UUID, storage_key: str, size_bytes: int) -> Row:
    return await tx.fetch_found(
        """
        UPDATE invoices SET storage_key = %s, size_bytes = %s, rendered_at = now()
        WHERE id = %s AND storage_key IS NULL
        RETURNING *
        """,
        (storage_key, size_bytes, invoice_id),
        "Invoice not found or already stored",
    )


async def buyer_order(db: Executor, order_id: UUID, buyer_id: UUID) -> Row:
    """The buyer's own order; anyone else's is not found."""
    return await db.fetch_found(
        "SELECT id, status FROM orders WHERE id = %s AND buyer_id = %s", (order_id, buyer_id), "Order not found"
    )


async def billed_order(db: Executor, order_id: UUID) -> Row:
    """What the invoice says of the order: its buyer, total and currency."""
    return await db.fetch_found(
        "SELECT id, buyer_id, total_cents, currency FROM orders WHERE id = %s", (order_id,), "Order not found"
    )


async def billed_items(db: Executor, order_id: UUID) -> list[Row]:
    """The order's lines as the invoice lists them, each with its seller's `{"id", "username"}`."""
    return await db.fetch_all(
        f"""
        SELECT i.title, i.quantity, i.unit_price_cents, {summary_json("i.seller_id")} AS seller
        FROM order_items i WHERE i.order_id = %s ORDER BY i.title, i.id
        """,
        (order_id,),
    )


async def unrendered_invoices(db: Executor, limit: int) -> list[UUID]:
    """Orders whose invoice PDF is not stored yet, oldest invoice first (the partial index's order)."""
    rows = await db.fetch_all(
        """
        SELECT i.order_id FROM invoices i JOIN orders o ON o.id = i.order_id
        WHERE i.storage_key IS NULL AND o.status = ANY(%s)
        ORDER BY i.created_at LIMIT %s
        """,
        (list(INVOICED_STATUSES), limit),
    )
    return [row["order_id"] for row in rows]


async def stored_invoices_naming(db: Executor, user_id: UUID, rendered_before: datetime, limit: int) -> list[UUID]:
    """Orders whose stored invoice names the user as buyer or seller and was rendered before the given time."""
    rows = await db.fetch_all(
        """
        SELECT i.order_id FROM invoices i
        WHERE i.order_id IN (
                SELECT id FROM orders WHERE buyer_id = %(user)s
                UNION SELECT order_id FROM order_items WHERE seller_id = %(user)s
            )
            AND i.storage_key IS NOT NULL AND i.rendered_at < %(before)s
        ORDER BY i.order_id LIMIT %(limit)s
        """,
        {"user": user_id, "before": rendered_before, "limit": limit},
    )
    return [row["order_id"] for row in rows]


async def mark_rerendered(tx: Executor, invoice_id: UUID, size_bytes: int) -> None:
    await tx.execute("UPDATE invoices SET size_bytes = %s, rendered_at = now() WHERE id = %s", (size_bytes, invoice_id))
