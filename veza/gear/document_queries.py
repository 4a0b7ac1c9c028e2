"""SQL for a gear item's documents. Every query names the owner: another user's rows are never found."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from veza.db import Executor, Row

COLUMNS = "id, item_id, owner_id, type, filename, content_type, size_bytes, storage_key, created_at"
ITEM_NOT_FOUND = "Gear item not found"
DOCUMENT_NOT_FOUND = "Document not found"


async def get_item(db: Executor, item_id: UUID, owner_id: UUID, *, lock: bool = False) -> Row:
    lock_clause = " FOR UPDATE" if lock else ""
    return await db.fetch_found(
        f"SELECT id, owner_id FROM gear_items WHERE id = %s AND owner_id = %s{lock_clause}",
        (item_id, owner_id),
        ITEM_NOT_FOUND,
    )


async def insert_document(db: Executor, fields: dict[str, Any]) -> Row:
    return await db.fetch_one(
        f"""INSERT INTO gear_documents (id, item_id, owner_id, type, filename, content_type, size_bytes, storage_key)
        VALUES (%(id)s, %(item_id)s, %(owner_id)s, %(type)s, %(filename)s, %(content_type)s, %(size_bytes)s,
                %(storage_key)s)
        RETURNING {COLUMNS}""",
        fields,
    )


async def page_documents(
    db: Executor, item_id: UUID, owner_id: UUID, *, limit: int, offset: int
) -> tuple[list[Row], int]:
    return await db.fetch_page(
        COLUMNS,
        "gear_documents WHERE item_id = %(item_id)s AND owner_id = %(owner_id)s",
        {"item_id": item_id, "owner_id": owner_id},
        order_by="created_at DESC, id",
        limit=limit,
        offset=offset,
    )


async def get_document(db: Executor, item_id: UUID, document_id: UUID, owner_id: UUID) -> Row:
    return await db.fetch_found(
        f"SELECT {COLUMNS} FROM gear_documents WHERE id = %s AND item_id = %s AND owner_id = %s",
        (document_id, item_id, owner_id),
        DOCUMENT_NOT_FOUND,
    )


async def delete_document(db: Executor, item_id: UUID, document_id: UUID, owner_id: UUID) -> Row:
    return await db.fetch_found(
        f"DELETE FROM gear_documents WHERE id = %s AND item_id = %s AND owner_id = %s RETURNING {COLUMNS}",
        (document_id, item_id, owner_id),
        DOCUMENT_NOT_FOUND,
    )


async def delete_item_documents(db: Executor, item_id: UUID, owner_id: UUID) -> list[Row]:
    return await db.fetch_all(
        "DELETE FROM gear_documents WHERE item_id = %s AND owner_id = %s RETURNING size_bytes, storage_key",
        (item_id, owner_id),
    )


async def document_exists(db: Executor, document_id: UUID) -> bool:
    return bool(await db.fetch_val("SELECT 1 FROM gear_documents WHERE id = %s", (document_id,)))


async def owner_documents(db: Executor, owner_id: UUID, limit: int) -> list[Row]:
    """Some of the owner's documents (id, storage_key), for a deleted account's erasure."""
    return await db.fetch_all(
        "SELECT id, storage_key FROM gear_documents WHERE owner_id = %s ORDER BY id LIMIT %s", (owner_id, limit)
    )


async def delete_documents(db: Executor, document_ids: list[UUID]) -> None:
    await db.execute("DELETE FROM gear_documents WHERE id = ANY(%s::uuid[])", (document_ids,))
