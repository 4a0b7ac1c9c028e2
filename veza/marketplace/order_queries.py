"""SQL for orders, their items and the licenses they grant."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from veza.db import Executor, Row

ORDER_NOT_FOUND = "Order not found"
ITEM_JSON = """json_build_object(
    'id', i.id, 'product_id', i.product_id, 'seller_id', i.seller_id, 'title', i.title,
    'unit_price_cents', i.unit_price_cents, 'quantity', i.quantity, 'currency', i.currency)"""
ORDER_COLUMNS = f"""
    o.id, o.status, o.total_cents, o.currency, o.payment_method, o.created_at, o.paid_at, o.failed_at,
    (SELECT coalesce(json_agg({ITEM_JSON} ORDER BY i.title, i.id), '[]') FROM order_items i WHERE i.order_id = o.id)
        AS items
"""


async def products_on_sale(db: Executor, product_ids: Sequence[UUID]) -> dict[UUID, Row]:
    rows = await db.fetch_all(
        "SELECT id, seller_id, title, price_cents, currency FROM products WHERE id = ANY(%s) AND status = 'active'",
        (list(product_ids),),
    )
    return {row["id"]: row for row in rows}


async def insert_order(
    db: Executor, buyer_id: UUID, total_cents: int, currency: str, payment_method: str, gateway: str
) -> UUID:
    return await db.fetch_val(
        """
        INSERT INTO orders (buyer_id, total_cents, currency, payment_method, gateway) VALUES (%s, %s, %s, %s, %s)
        RETURNING id
        """,
        (buyer_id, total_cents, currency, payment_method, gateway),
    )


async def insert_item(db: Executor, order_id: UUID, product: Row, quantity: int) -> None:
    await db.execute(
        """
        INSERT INTO order_items (order_id, product_id, seller_id, title, unit_price_cents, quantity, currency)
        VALUES (%s, %s, %s, %s, %s, %s, %s)
        """,
        (
            order_id,
            product["id"],
            product["seller_id"],
            product["title"],
            product["price_cents"],
            quantity,
            product["currency"],
        ),
    )


async def order(db: Executor, order_id: UUID) -> Row:
    return await db.fetch_found(f"SELECT {ORDER_COLUMNS} FROM orders o WHERE o.id = %s", (order_id,), ORDER_NOT_FOUND)


async def visible_order(db: Executor, order_id: UUID, user_id: UUID) -> Row:
    """The order if `user_id` bought it or sells one of its items."""
    return await db.fetch_found(
        f"""
        SELECT {ORDER_COLUMNS} FROM orders o
        WHERE o.id = %(id)s AND (o.buyer_id = %(user)s
            OR EXISTS (SELECT 1 FROM order_items s WHERE s.order_id = o.id AND s.seller_id = %(user)s))
        """,
        {"id": order_id, "user": user_id},
        ORDER_NOT_FOUND,
    )


async def buyer_orders(db: Executor, buyer_id: UUID, *, limit: int, offset: int) -> tuple[list[Row], int]:
    return await db.fetch_page(
        ORDER_COLUMNS,
        "orders o WHERE o.buyer_id = %(buyer)s",
        {"buyer": buyer_id},
        order_by="o.created_at DESC, o.id",
        limit=limit,
        offset=offset,
    )


async def attach_payment(db: Executor, order_id: UUID, payment_id: str, client_secret: str | None) -> None:
    await db.execute(
        "UPDATE orders SET payment_id = %s, client_secret = %s, updated_at = now() WHERE id = %s",
        (payment_id, client_secret, order_id),
    )


async def fail_pending(db: Executor, order_id: UUID) -> bool:
    return bool(
        await db.execute(
            "UPDATE orders SET status = 'failed', failed_at = now(), updated_at = now() "
            "WHERE id = %s AND status = 'pending'",
            (order_id,),
        )
    )


async def fail_unpaid_orders(db: Executor, older_than_seconds: float) -> int:
    """Fail the pending orders that never got their payment (the process died while asking for it)."""
    return await db.execute(
        """
        UPDATE orders SET status = 'failed', failed_at = now(), updated_at = now()
        WHERE status = 'pending' AND payment_id IS NULL AND created_at < now() - make_interval(secs => %s)
        """,
        (older_than_seconds,),
    )


async def order_for_payment(db: Executor, payment_id: str) -> Row | None:
    """The order paid by `payment_id`, locked until the transaction ends."""
    return await db.fetch_one(
        "SELECT id, buyer_id, status, total_cents, currency FROM orders WHERE payment_id = %s FOR UPDATE",
        (payment_id,),
    )


async def complete(db: Executor, order_id: UUID) -> bool:
    """pending -> completed, and failed -> completed (the money was taken after all)."""
    return bool(
        await db.execute(
            "UPDATE orders SET status = 'completed', paid_at = now(), updated_at = now() "
            "WHERE id = %s AND status IN ('pending', 'failed')",
            (order_id,),
        )
    )


async def items(db: Executor, order_id: UUID) -> list[Row]:
    return await db.fetch_all(
        "SELECT id, product_id, seller_id, title, unit_price_cents, quantity, currency FROM order_items "
        "WHERE order_id = %s ORDER BY product_id",
        (order_id,),
    )


async def grant_license(db: Executor, buyer_id: UUID, order_id: UUID, item: Row) -> None:
    await db.execute(
        """
        INSERT INTO licenses (buyer_id, product_id, order_id, order_item_id) VALUES (%s, %s, %s, %s)
        ON CONFLICT (order_item_id) DO NOTHING
        """,
        (buyer_id, item["product_id"], order_id, item["id"]),
    )


async def add_sales(db: Executor, product_id: UUID, quantity: int) -> None:
    await db.execute("UPDATE products SET sales_count = sales_count + %s WHERE id = %s", (quantity, product_id))


# The data export (GDPR) walks a user's rows by id, a page at a time (veza/users/export.py).


async def export_orders(db: Executor, user_id: UUID, after: UUID, limit: int) -> list[Row]:
    """The buyer's orders after id `after`, each with its items (the payment's client secret left out)."""
    return await db.fetch_all(
        """
        SELECT o.id, o.status, o.total_cents, o.currency, o.payment_method, o.gateway, o.payment_id,
               o.paid_at, o.failed_at, o.created_at, o.updated_at,
               (SELECT coalesce(json_agg(json_build_object(
                    'product_id', i.product_id, 'seller_id', i.seller_id, 'title', i.title,
                    'unit_price_cents', i.unit_price_cents, 'quantity', i.quantity, 'currency', i.currency
                ) ORDER BY i.id), '[]') FROM order_items i WHERE i.order_id = o.id) AS items
        FROM orders o WHERE o.buyer_id = %s AND o.id > %s ORDER BY o.id LIMIT %s
        """,
        (user_id, after, limit),
    )


async def export_licenses(db: Executor, user_id: UUID, after: UUID, limit: int) -> list[Row]:
    """The buyer's licenses after id `after`, with the product's title."""
    return await db.fetch_all(
        """
        SELECT l.id, l.product_id, p.title AS product_title, l.order_id, l.status, l.created_at, l.revoked_at
        FROM licenses l JOIN products p ON p.id = l.product_id
        WHERE l.buyer_id = %s AND l.id > %s ORDER BY l.id LIMIT %s
        """,
        (user_id, after, limit),
    )
