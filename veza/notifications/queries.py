"""SQL for notifications."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg2.extras import Json

from veza.db import Executor, Row
from veza.errors import NotFound

COLUMNS = "id, type, title, body, data, read_at, created_at"


async def insert(db: Executor, user_id: UUID, type_: str, title: str, body: str, data: dict[str, Any]) -> Row:
    return await db.fetch_one(
        f"INSERT INTO notifications (user_id, type, title, body, data) VALUES (%s, %s, %s, %s, %s) RETURNING {COLUMNS}",
        (user_id, type_, title, body, Json(data)),
    )


async def page(db: Executor, user_id: UUID, *, unread_only: bool, limit: int, offset: int) -> tuple[list[Row], int]:
    where = "user_id = %(user)s" + (" AND read_at IS NULL" if unread_only else "")
    params = {"user": user_id, "limit": limit, "offset": offset}
    rows = await db.fetch_all(
        f"SELECT {COLUMNS} FROM notifications WHERE {where} "
        "ORDER BY created_at DESC, id LIMIT %(limit)s OFFSET %(offset)s",
        params,
    )
    total = await db.fetch_val(f"SELECT count(*) FROM notifications WHERE {where}", params)
    return rows, total


async def unread_count(db: Executor, user_id: UUID) -> int:
    return await db.fetch_val("SELECT count(*) FROM notifications WHERE user_id = %s AND read_at IS NULL", (user_id,))


async def mark_read(db: Executor, user_id: UUID, notification_id: UUID) -> Row:
    row = await db.fetch_one(
        f"""
        UPDATE notifications SET read_at = coalesce(read_at, now())
        WHERE id = %s AND user_id = %s RETURNING {COLUMNS}
        """,
        (notification_id, user_id),
    )
    if row is None:
        raise NotFound("Notification not found")
    return row


async def mark_all_read(db: Executor, user_id: UUID) -> int:
    return await db.execute(
        "UPDATE notifications SET read_at = now() WHERE user_id = %s AND read_at IS NULL", (user_id,)
    )
