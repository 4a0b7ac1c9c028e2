"""SQL for reviews and the rating they give their product."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from veza.db import Executor, Row
from veza.marketplace.queries import PRODUCT_NOT_FOUND
from veza.users.queries import summary_json

REVIEW_COLUMNS = f"""
    r.id, r.product_id, r.buyer_id, r.order_id, r.rating, r.comment, r.created_at,
    {summary_json("r.buyer_id")} AS buyer
"""


async def product_exists(db: Executor, product_id: UUID) -> None:
    """Any product, archived ones included (their reviews stay readable); an unknown one is a NotFound."""
    await db.fetch_found("SELECT 1 FROM products WHERE id = %s", (product_id,), PRODUCT_NOT_FOUND)


async def lock_product(tx: Executor, product_id: UUID) -> Row:
    """The product's seller, with the row locked until the transaction ends: reviews of one product
    are written one at a time, so each recomputed rating counts every review before it."""
    return await tx.fetch_found(
        "SELECT id, seller_id FROM products WHERE id = %s FOR NO KEY UPDATE", (product_id,), PRODUCT_NOT_FOUND
    )


async def licensed_order(db: Executor, product_id: UUID, buyer_id: UUID) -> UUID | None:
    """The buyer's first completed order whose license for the product is active, if any."""
    return await db.fetch_val(
        """
        SELECT o.id FROM licenses l JOIN orders o ON o.id = l.order_id
        WHERE l.product_id = %s AND l.buyer_id = %s AND l.status = 'active' AND o.status = 'completed'
        ORDER BY o.created_at, o.id LIMIT 1
        """,
        (product_id, buyer_id),
    )


async def insert_review(tx: Executor, fields: dict[str, Any]) -> Row | None:
    """The new review, or None when the buyer has reviewed the product already."""
    return await tx.fetch_one(
        f"""
        INSERT INTO reviews AS r (product_id, buyer_id, order_id, rating, comment)
        VALUES (%(product_id)s, %(buyer_id)s, %(order_id)s, %(rating)s, %(comment)s)
        ON CONFLICT (product_id, buyer_id) DO NOTHING
        RETURNING {REVIEW_COLUMNS}
        """,
        fields,
    )


async def recount_rating(tx: Executor, product_id: UUID) -> None:
    """Set the product's rating_avg and review_count from its reviews."""
    await tx.execute(
        """
        UPDATE products SET rating_avg = counted.average, review_count = counted.number
        FROM (SELECT round(avg(rating), 2) AS average, count(*) AS number FROM reviews WHERE product_id = %(id)s)
            AS counted
        WHERE products.id = %(id)s
        """,
        {"id": product_id},
    )


async def page_reviews(db: Executor, product_id: UUID, *, limit: int, offset: int) -> tuple[list[Row], int]:
    return await db.fetch_page(
        REVIEW_COLUMNS,
        "reviews r WHERE r.product_id = %(product)s",
        {"product": product_id},
        order_by="r.created_at DESC, r.id",
        limit=limit,
        offset=offset,
    )


async def export_reviews(db: Executor, user_id: UUID, after: UUID, limit: int) -> list[Row]:
    """The reviews the user wrote, after id `after` (the data export)."""
    return await db.fetch_all(
        """
        SELECT id, product_id, order_id, rating, comment, created_at
        FROM reviews WHERE buyer_id = %s AND id > %s ORDER BY id LIMIT %s
        """,
        (user_id, after, limit),
    )


async def delete_buyer_reviews(db: Executor, buyer_id: UUID) -> list[UUID]:
    """Delete the buyer's reviews; the products they were about (whose rating must be counted again)."""
    rows = await db.fetch_all("DELETE FROM reviews WHERE buyer_id = %s RETURNING product_id", (buyer_id,))
    return sorted({row["product_id"] for row in rows})
