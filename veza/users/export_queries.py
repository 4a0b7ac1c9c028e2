"""SQL for data exports (GDPR archives). Status moves only forward, each step guarded by the one before."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from veza.db import Executor, Row

COLUMNS = (
    "id, user_id, status, storage_key, size_bytes, error, attempts, created_at, started_at, finished_at, expires_at"
)
OPEN = ("pending", "running")


async def open_export(db: Executor, user_id: UUID) -> Row | None:
    """The user's export in progress, if any."""
    return await db.fetch_one(
        f"SELECT {COLUMNS} FROM data_exports WHERE user_id = %s AND status IN ('pending', 'running')", (user_id,)
    )


async def last_counted(db: Executor, user_id: UUID) -> Row | None:
    """The user's newest export that counts against the daily limit (a failed one does not), with when it frees."""
    return await db.fetch_one(
        """
        SELECT created_at, ceil(extract(epoch FROM created_at + %s - now()))::int AS wait_seconds
        FROM data_exports WHERE user_id = %s AND status <> 'failed' ORDER BY created_at DESC LIMIT 1
        """,
        (timedelta(days=1), user_id),
    )


async def insert(db: Executor, user_id: UUID) -> Row:
    return await db.fetch_one(f"INSERT INTO data_exports (user_id) VALUES (%s) RETURNING {COLUMNS}", (user_id,))


async def get_own(db: Executor, user_id: UUID, export_id: UUID) -> Row:
    return await db.fetch_found(
        f"SELECT {COLUMNS} FROM data_exports WHERE id = %s AND user_id = %s", (export_id, user_id), "Export not found"
    )


async def get(db: Executor, export_id: UUID) -> Row | None:
    return await db.fetch_one(f"SELECT {COLUMNS} FROM data_exports WHERE id = %s", (export_id,))


async def page(db: Executor, user_id: UUID, limit: int, offset: int) -> tuple[list[Row], int]:
    return await db.fetch_page(
        COLUMNS,
        "data_exports WHERE user_id = %(user_id)s",
        {"user_id": user_id},
        order_by="created_at DESC, id DESC",
        limit=limit,
        offset=offset,
    )


async def claim(db: Executor, export_id: UUID) -> Row | None:
    """Mark the export running; a run after a crash claims it again. None once it is finished."""
    return await db.fetch_one(
        f"""
        UPDATE data_exports SET status = 'running', started_at = now()
        WHERE id = %s AND status IN ('pending', 'running') RETURNING {COLUMNS}
        """,
        (export_id,),
    )


async def mark_ready(db: Executor, export_id: UUID, key: str, size: int, keep: timedelta) -> Row | None:
    return await db.fetch_one(
        f"""
        UPDATE data_exports
        SET status = 'ready', storage_key = %s, size_bytes = %s, finished_at = now(), expires_at = now() + %s
        WHERE id = %s AND status = 'running' RETURNING {COLUMNS}
        """,
        (key, size, keep, export_id),
    )


async def mark_failed(db: Executor, export_id: UUID, error: str) -> Row | None:
    return await db.fetch_one(
        f"""
        UPDATE data_exports SET status = 'failed', error = %s, finished_at = now()
        WHERE id = %s AND status IN ('pending', 'running') RETURNING {COLUMNS}
        """,
        (error, export_id),
    )


async def expired(db: Executor, limit: int) -> list[Row]:
    """Ready exports past their expiry, oldest first."""
    return await db.fetch_all(
        f"""
        SELECT {COLUMNS} FROM data_exports WHERE status = 'ready' AND expires_at <= now()
        ORDER BY expires_at LIMIT %s
        """,
        (limit,),
    )


async def mark_expired(db: Executor, export_id: UUID) -> bool:
    return bool(
        await db.execute("UPDATE data_exports SET status = 'expired' WHERE id = %s AND status = 'ready'", (export_id,))
    )


async def requeue_stale(db: Executor, older_than: timedelta, limit: int) -> list[Row]:
    """Exports pending or running, last queued and started more than `older_than` ago: queued once more
    (attempts + 1, part of the new job's id)."""
    return await db.fetch_all(
        f"""
        UPDATE data_exports SET attempts = attempts + 1, queued_at = now()
        WHERE id IN (
            SELECT id FROM data_exports
            WHERE status IN ('pending', 'running') AND queued_at < now() - %(age)s
              AND coalesce(started_at, queued_at) < now() - %(age)s
            ORDER BY queued_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
        )
        RETURNING {COLUMNS}
        """,
        {"age": older_than, "limit": limit},
    )


async def stored_exports(db: Executor, user_id: UUID, limit: int) -> list[Row]:
    """Some of the user's exports that name a blob (id, storage_key), for a deleted account's erasure."""
    return await db.fetch_all(
        "SELECT id, storage_key FROM data_exports WHERE user_id = %s AND storage_key IS NOT NULL ORDER BY id LIMIT %s",
        (user_id, limit),
    )


async def delete_exports(db: Executor, export_ids: list[UUID]) -> None:
    await db.execute("DELETE FROM data_exports WHERE id = ANY(%s::uuid[])", (export_ids,))


async def delete_user_exports(db: Executor, user_id: UUID) -> None:
    await db.execute("DELETE FROM data_exports WHERE user_id = %s", (user_id,))
