"""SQL for notifications."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg2.extras import Json

from veza.db import Executor, Row

COLUMNS = "id, type, title, body, data, read_at, created_at"


async def insert(db: Executor, user_id: UUID, type_: str, title: str, body: str, data: dict[str, Any]) -> Row:
    return await db.fetch_one(
        f"INSERT INTO notifications (user_id, type, title, body, data) VALUES (%s, %s, %s, %s, %s) RETURNING {COLUMNS}",
        (user_id, type_, title, body, Json(data)),
    )


async def page(db: Executor, user_id: UUID, *, unread_only: bool, limit: int, offset: int) -> tuple[list[Row], int]:
    where = "user_id = %(user)s" + (" AND read_at IS NULL" if unread_only else "")
    return await db.fetch_page(
        COLUMNS,
        f"notifications WHERE {where}",
        {"user": user_id},
        order_by="created_at DESC, id",
        limit=limit,
        offset=offset,
    )


async def unread_count(db: Executor, user_id: UUID) -> int:
    return await db.fetch_val("SELECT count(*) FROM notifications WHERE user_id = %s AND read_at IS NULL", (user_id,))


async def mark_read(db: Executor, user_id: UUID, notification_id: UUID) -> Row:
    return await db.fetch_found(
        f"""
        UPDATE notifications SET read_at = coalesce(read_at, now())
        WHERE id = %s AND user_id = %s RETURNING {COLUMNS}
        """,
        (notification_id, user_id),
        "Notification not found",
    )


async def mark_all_read(db: Executor, user_id: UUID) -> int:
    return await db.execute(
        "UPDATE notifications SET read_at = now() WHERE user_id = %s AND read_at IS NULL", (user_id,)
    )


async def export_rows(db: Executor, user_id: UUID, after: UUID, limit: int) -> list[Row]:
    """The user's notifications after id `after` (the data export)."""
    return await db.fetch_all(
        """
        SELECT id, type, title, body, data, read_at, created_at
        FROM notifications WHERE user_id = %s AND id > %s ORDER BY id LIMIT %s
        """,
        (user_id, after, limit),
    )


async def delete_all(db: Executor, user_id: UUID) -> None:
    await db.execute("DELETE FROM notifications WHERE user_id = %s", (user_id,))
