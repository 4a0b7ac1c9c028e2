"""SQL for products."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from veza.db import Executor, Row, set_clause
from veza.errors import NotFound
from veza.users import queries as user_queries
from veza.users.queries import summary_json

PRODUCT_COLUMNS = f"""
    p.id, p.title, p.description, p.kind, p.price_cents, p.currency, p.tags, p.status,
    p.asset_file_id, p.rating_avg::float AS rating_avg, p.review_count, p.sales_count,
    p.created_at, p.updated_at, {summary_json("p.seller_id")} AS seller
"""
SELECT_PRODUCT = f"SELECT {PRODUCT_COLUMNS} FROM products p"
PRODUCT_NOT_FOUND = "Product not found"
SELLER_NOT_FOUND = "Seller not found"
ORDER_BY = {
    "newest": "p.created_at DESC, p.id",
    "price_asc": "p.price_cents ASC, p.created_at DESC, p.id",
    "price_desc": "p.price_cents DESC, p.created_at DESC, p.id",
    "rating": "p.rating_avg DESC NULLS LAST, p.review_count DESC, p.created_at DESC, p.id",
    "popular": "p.sales_count DESC, p.created_at DESC, p.id",
}
UPDATABLE = frozenset({"title", "description", "kind", "price_cents", "currency", "tags", "asset_file_id"})


async def catalog(db: Executor, *, tsquery: str | None, sort: str, limit: int, offset: int) -> tuple[list[Row], int]:
    where = "p.status = 'active'"
    if tsquery:
        where += " AND p.search @@ to_tsquery('simple', %(q)s)"
    return await db.fetch_page(
        PRODUCT_COLUMNS,
        f"products p WHERE {where}",
        {"q": tsquery},
        order_by=ORDER_BY[sort],
        limit=limit,
        offset=offset,
    )


async def active_product(db: Executor, product_id: UUID) -> Row:
    return await db.fetch_found(
        f"{SELECT_PRODUCT} WHERE p.id = %s AND p.status = 'active'", (product_id,), PRODUCT_NOT_FOUND
    )


async def public_seller(db: Executor, seller_id: UUID) -> Row:
    """A seller's public profile: a user who has listed a product and whose account is not deleted."""
    profile = await user_queries.public_profile(db, seller_id)
    figures = await db.fetch_one(
        """
        SELECT (SELECT coalesce(sum(p.sales_count), 0) FROM products p WHERE p.seller_id = %(id)s
                AND p.status = 'active') AS sales_count,
            count(r.id) AS review_count, round(avg(r.rating), 2)::float AS rating_avg
        FROM products p JOIN reviews r ON r.product_id = p.id
        WHERE p.seller_id = %(id)s AND p.status = 'active'
        HAVING EXISTS (SELECT 1 FROM products listed WHERE listed.seller_id = %(id)s)
        """,
        {"id": seller_id},
    )
    if profile is None or figures is None:
        raise NotFound(SELLER_NOT_FOUND)
    return {**profile, **figures}


async def seller_product(db: Executor, product_id: UUID, seller_id: UUID) -> Row:
    return await db.fetch_found(
        f"{SELECT_PRODUCT} WHERE p.id = %s AND p.seller_id = %s", (product_id, seller_id), PRODUCT_NOT_FOUND
    )


async def seller_products(
    db: Executor, seller_id: UUID, *, status: str | None, limit: int, offset: int
) -> tuple[list[Row], int]:
    where = "p.seller_id = %(seller)s" + (" AND p.status = %(status)s" if status else "")
    return await db.fetch_page(
        PRODUCT_COLUMNS,
        f"products p WHERE {where}",
        {"seller": seller_id, "status": status},
        order_by="p.created_at DESC, p.id",
        limit=limit,
        offset=offset,
    )


async def insert_product(db: Executor, seller_id: UUID, fields: dict[str, Any]) -> UUID:
    return await db.fetch_val(
        """
        INSERT INTO products (seller_id, asset_file_id, title, description, kind, price_cents, currency, tags)
        VALUES (%(seller)s, %(asset_file_id)s, %(title)s, %(description)s, %(kind)s, %(price_cents)s,
                %(currency)s, %(tags)s)
        RETURNING id
        """,
        {"seller": seller_id, **fields},
    )


async def update_product(db: Executor, product_id: UUID, seller_id: UUID, fields: dict[str, Any]) -> None:
    await db.fetch_found(
        f"""
        UPDATE products SET {set_clause(fields, UPDATABLE)}
        WHERE id = %(id)s AND seller_id = %(seller)s RETURNING id
        """,
        {**fields, "id": product_id, "seller": seller_id},
        PRODUCT_NOT_FOUND,
    )


async def archive_product(db: Executor, product_id: UUID, seller_id: UUID) -> None:
    await db.fetch_found(
        "UPDATE products SET status = 'archived', updated_at = now() WHERE id = %s AND seller_id = %s RETURNING id",
        (product_id, seller_id),
        PRODUCT_NOT_FOUND,
    )


async def export_products(db: Executor, user_id: UUID, after: UUID, limit: int) -> list[Row]:
    """The seller's products after id `after` (the data export)."""
    return await db.fetch_all(
        """
        SELECT id, asset_file_id, title, description, kind, price_cents, currency, tags, status, rating_avg,
               review_count, sales_count, created_at, updated_at
        FROM products WHERE seller_id = %s AND id > %s ORDER BY id LIMIT %s
        """,
        (user_id, after, limit),
    )


async def archive_seller_products(db: Executor, seller_id: UUID) -> None:
    """Take every product of the seller off sale."""
    await db.execute(
        "UPDATE products SET status = 'archived', updated_at = now() WHERE seller_id = %s AND status = 'active'",
        (seller_id,),
    )
