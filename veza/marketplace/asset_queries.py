"""SQL for the files products sell: who may download them, and which products hold a file."""

from __future__ import annotations

from uuid import UUID

from veza.db import Executor, Row
from veza.marketplace.queries import PRODUCT_NOT_FOUND


async def downloadable_product(db: Executor, product_id: UUID, user_id: UUID) -> Row:
    """The product (archived or not) if the user sells it or holds an active license of it; else NotFound."""
    return await db.fetch_found(
        """
        SELECT p.id, p.title, p.asset_file_id FROM products p
        WHERE p.id = %(product)s AND (
            p.seller_id = %(user)s
            OR EXISTS (
                SELECT 1 FROM licenses l
                WHERE l.product_id = p.id AND l.buyer_id = %(user)s AND l.status = 'active'
            )
        )
        """,
        {"product": product_id, "user": user_id},
        PRODUCT_NOT_FOUND,
    )


async def lock_products_selling(tx: Executor, file_id: UUID) -> list[Row]:
    """The products whose asset is the file, locked until the transaction ends: the lock waits for a
    checkout that is adding one of them to an order, and holds off the next."""
    return await tx.fetch_all(
        "SELECT id, title FROM products WHERE asset_file_id = %s ORDER BY created_at, id FOR UPDATE", (file_id,)
    )


async def ordered_products(tx: Executor, product_ids: list[UUID]) -> set[UUID]:
    """Those of the products that some order holds, whatever its state.

    Run it after the products are locked: as a statement of its own it sees the orders committed
    while the lock was awaited.
    """
    rows = await tx.fetch_all("SELECT DISTINCT product_id FROM order_items WHERE product_id = ANY(%s)", (product_ids,))
    return {row["product_id"] for row in rows}


async def delete_products(tx: Executor, product_ids: list[UUID]) -> None:
    await tx.execute("DELETE FROM products WHERE id = ANY(%s)", (product_ids,))
