"""SQL for products."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from veza.db import Executor, Row, set_clause
from veza.errors import NotFound

SELECT_PRODUCT = """
    SELECT p.id, p.title, p.description, p.kind, p.price_cents, p.currency, p.tags, p.status,
           p.asset_file_id, p.rating_avg::float AS rating_avg, p.review_count, p.sales_count,
           p.created_at, p.updated_at,
           json_build_object('id', u.id, 'username', u.username) AS seller
    FROM products p JOIN users u ON u.id = p.seller_id
"""
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
    params = {"q": tsquery, "limit": limit, "offset": offset}
    rows = await db.fetch_all(
        f"{SELECT_PRODUCT} WHERE {where} ORDER BY {ORDER_BY[sort]} LIMIT %(limit)s OFFSET %(offset)s", params
    )
    total = await db.fetch_val(f"SELECT count(*) FROM products p WHERE {where}", params)
    return rows, total


async def active_product(db: Executor, product_id: UUID) -> Row:
    row = await db.fetch_one(f"{SELECT_PRODUCT} WHERE p.id = %s AND p.status = 'active'", (product_id,))
    if row is None:
        raise NotFound("Product not found")
    return row


async def seller_product(db: Executor, product_id: UUID, seller_id: UUID) -> Row:
    row = await db.fetch_one(f"{SELECT_PRODUCT} WHERE p.id = %s AND p.seller_id = %s", (product_id, seller_id))
    if row is None:
        raise NotFound("Product not found")
    return row


async def seller_products(
    db: Executor, seller_id: UUID, *, status: str | None, limit: int, offset: int
) -> tuple[list[Row], int]:
    where = "p.seller_id = %(seller)s" + (" AND p.status = %(status)s" if status else "")
    params = {"seller": seller_id, "status": status, "limit": limit, "offset": offset}
    rows = await db.fetch_all(
        f"{SELECT_PRODUCT} WHERE {where} ORDER BY p.created_at DESC, p.id LIMIT %(limit)s OFFSET %(offset)s", params
    )
    return rows, await db.fetch_val(f"SELECT count(*) FROM products p WHERE {where}", params)


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
    updated = await db.execute(
        f"UPDATE products SET {set_clause(fields, UPDATABLE)} WHERE id = %(id)s AND seller_id = %(seller)s",
        {**fields, "id": product_id, "seller": seller_id},
    )
    if not updated:
        raise NotFound("Product not found")


async def archive_product(db: Executor, product_id: UUID, seller_id: UUID) -> None:
    updated = await db.execute(
        "UPDATE products SET status = 'archived', updated_at = now() WHERE id = %s AND seller_id = %s",
        (product_id, seller_id),
    )
    if not updated:
        raise NotFound("Product not found")


async def owns_cloud_file(db: Executor, file_id: UUID, user_id: UUID) -> bool:
    return bool(await db.fetch_val("SELECT 1 FROM cloud_files WHERE id = %s AND user_id = %s", (file_id, user_id)))


async def become_seller(db: Executor, user_id: UUID) -> bool:
    """A user's first product makes them a seller; admins stay admins."""
    return bool(await db.execute("UPDATE users SET role = 'seller' WHERE id = %s AND role = 'user'", (user_id,)))
