"""SQL for gear items, their repairs, and the keys of their documents."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from veza.db import Executor, Row, escape_like

ITEM_NOT_FOUND = "Gear item not found"
REPAIR_NOT_FOUND = "Repair not found"
EDITABLE = (
    "name, brand, model, category, serial_number, purchase_date, price_cents, currency, purchased_from, notes, "
    "tags, warranty_expires_at, lifetime_warranty"
)
EDITABLE_COLUMNS = tuple(column.strip() for column in EDITABLE.split(","))
# The repairs' costs per currency, as a JSON object: {"EUR": 8500}.
REPAIR_TOTALS = """coalesce((
    SELECT jsonb_object_agg(currency, total) FROM (
        SELECT currency, sum(cost_cents) AS total FROM gear_repairs WHERE item_id = gear_items.id GROUP BY currency
    ) AS totals), '{}') AS repair_total_cents"""
ITEM_COLUMNS = f"id, owner_id, {EDITABLE}, created_at, updated_at, {REPAIR_TOTALS}"
REPAIR_COLUMNS = "id, item_id, repair_date, description, cost_cents, currency, provider, created_at"
# Which items each `warranty` filter keeps, with %(today)s the UTC date (as the badge counts it).
WARRANTY_FILTERS = {
    "active": "(lifetime_warranty OR warranty_expires_at >= %(today)s)",
    "expiring": "(NOT lifetime_warranty AND warranty_expires_at BETWEEN %(today)s AND %(today)s + 30)",
    "expired": "(NOT lifetime_warranty AND warranty_expires_at < %(today)s)",
    "none": "(NOT lifetime_warranty AND warranty_expires_at IS NULL)",
}
SEARCHED = ("name", "brand", "model", "serial_number", "notes")


async def insert_item(db: Executor, owner_id: UUID, fields: dict[str, Any]) -> Row:
    values = ", ".join(f"%({column})s" for column in EDITABLE_COLUMNS)
    return await db.fetch_one(
        f"INSERT INTO gear_items (owner_id, {EDITABLE}) VALUES (%(owner_id)s, {values}) RETURNING {ITEM_COLUMNS}",
        {**fields, "owner_id": owner_id},
    )


async def get_item(db: Executor, item_id: UUID, owner_id: UUID, *, lock: bool = False) -> Row:
    """The owner's item (locked FOR UPDATE if asked); another user's item is not found."""
    return await db.fetch_found(
        f"SELECT {ITEM_COLUMNS} FROM gear_items WHERE id = %s AND owner_id = %s{' FOR UPDATE' if lock else ''}",
        (item_id, owner_id),
        ITEM_NOT_FOUND,
    )


async def update_item(db: Executor, item_id: UUID, fields: dict[str, Any]) -> Row:
    assignments = ", ".join(f"{column} = %({column})s" for column in EDITABLE_COLUMNS)
    return await db.fetch_one(
        f"UPDATE gear_items SET {assignments}, updated_at = now() WHERE id = %(id)s RETURNING {ITEM_COLUMNS}",
        {**fields, "id": item_id},
    )


async def page_items(
    db: Executor,
    owner_id: UUID,
    *,
    today: date,
    search: str | None,
    category: str | None,
    warranty: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Row], int]:
    where = ["owner_id = %(owner_id)s"]
    if search:
        where.append("(" + " OR ".join(f"{column} ILIKE %(pattern)s" for column in SEARCHED) + ")")
    if category is not None:
        where.append("category = %(category)s")
    if warranty is not None:
        where.append(WARRANTY_FILTERS[warranty])
    params = {
        "owner_id": owner_id,
        "today": today,
        "pattern": f"%{escape_like(search or '')}%",
        "category": category,
    }
    return await db.fetch_page(
        ITEM_COLUMNS,
        "gear_items WHERE " + " AND ".join(where),
        params,
        order_by="created_at DESC, id DESC",
        limit=limit,
        offset=offset,
    )


async def delete_item(db: Executor, item_id: UUID, owner_id: UUID) -> None:
    """The item; its repairs, documents and warranty notices cascade."""
    await db.execute("DELETE FROM gear_items WHERE id = %s AND owner_id = %s", (item_id, owner_id))


# Repairs.


async def insert_repair(db: Executor, item_id: UUID, fields: dict[str, Any]) -> Row:
    return await db.fetch_one(
        f"""
        INSERT INTO gear_repairs (item_id, repair_date, description, cost_cents, currency, provider)
        VALUES (%(item_id)s, %(repair_date)s, %(description)s, %(cost_cents)s, %(currency)s, %(provider)s)
        RETURNING {REPAIR_COLUMNS}
        """,
        {**fields, "item_id": item_id},
    )


async def page_repairs(db: Executor, item_id: UUID, *, limit: int, offset: int) -> tuple[list[Row], int]:
    return await db.fetch_page(
        REPAIR_COLUMNS,
        "gear_repairs WHERE item_id = %(item_id)s",
        {"item_id": item_id},
        order_by="repair_date DESC, created_at DESC, id DESC",
        limit=limit,
        offset=offset,
    )


async def delete_repair(db: Executor, item_id: UUID, repair_id: UUID) -> int:
    return await db.execute("DELETE FROM gear_repairs WHERE id = %s AND item_id = %s", (repair_id, item_id))


async def export_items(db: Executor, user_id: UUID, after: UUID, limit: int) -> list[Row]:
    """The owner's items after id `after`, each with its documents' metadata and its repairs (the data export)."""
    return await db.fetch_all(
        """
        SELECT i.*,
               (SELECT coalesce(json_agg(json_build_object(
                    'id', d.id, 'type', d.type, 'filename', d.filename, 'content_type', d.content_type,
                    'size_bytes', d.size_bytes, 'created_at', d.created_at
                ) ORDER BY d.created_at, d.id), '[]') FROM gear_documents d WHERE d.item_id = i.id) AS documents,
               (SELECT coalesce(json_agg(json_build_object(
                    'id', r.id, 'repair_date', r.repair_date, 'description', r.description,
                    'cost_cents', r.cost_cents, 'currency', r.currency, 'provider', r.provider,
                    'created_at', r.created_at
                ) ORDER BY r.repair_date, r.id), '[]') FROM gear_repairs r WHERE r.item_id = i.id) AS repairs
        FROM gear_items i WHERE i.owner_id = %s AND i.id > %s ORDER BY i.id LIMIT %s
        """,
        (user_id, after, limit),
    )


async def delete_owner_items(db: Executor, owner_id: UUID) -> None:
    """Every item of the owner, their repairs and warranty notices with them (their documents must be gone)."""
    await db.execute("DELETE FROM gear_items WHERE owner_id = %s", (owner_id,))
