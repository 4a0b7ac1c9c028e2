"""SQL for live streams and stream keys."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from veza.db import Executor, Row, set_clause

COLUMNS = (
    "id, user_id, title, description, category, tags, is_live, started_at, ended_at, viewer_count, "
    "created_at, updated_at"
)
UPDATABLE = frozenset({"title", "description", "category", "tags"})


async def insert_stream(db: Executor, user_id: UUID, fields: dict[str, Any]) -> Row:
    return await db.fetch_one(
        f"""
        INSERT INTO live_streams (user_id, title, description, category, tags)
        VALUES (%(user_id)s, %(title)s, %(description)s, %(category)s, %(tags)s)
        RETURNING {COLUMNS}
        """,
        {"user_id": user_id, **fields},
    )


async def get_stream(db: Executor, stream_id: UUID) -> Row:
    return await db.fetch_found(f"SELECT {COLUMNS} FROM live_streams WHERE id = %s", (stream_id,), "Stream not found")


async def page(db: Executor, *, is_live: bool | None, limit: int, offset: int) -> tuple[list[Row], int]:
    where = "TRUE" if is_live is None else "is_live = %(is_live)s"
    return await db.fetch_page(
        COLUMNS,
        f"live_streams WHERE {where}",
        {"is_live": is_live},
        order_by="is_live DESC, coalesce(started_at, created_at) DESC, id",
        limit=limit,
        offset=offset,
    )


async def user_streams(db: Executor, user_id: UUID, *, limit: int, offset: int) -> tuple[list[Row], int]:
    return await db.fetch_page(
        COLUMNS,
        "live_streams WHERE user_id = %(user)s",
        {"user": user_id},
        order_by="created_at DESC, id",
        limit=limit,
        offset=offset,
    )


async def latest_stream(db: Executor, user_id: UUID) -> Row | None:
    return await db.fetch_one(
        f"SELECT {COLUMNS} FROM live_streams WHERE user_id = %s ORDER BY created_at DESC, id LIMIT 1", (user_id,)
    )


async def update_stream(db: Executor, stream_id: UUID, owner_id: UUID, fields: dict[str, Any]) -> Row:
    """Update the owner's stream; another user's stream is not found."""
    return await db.fetch_found(
        f"""
        UPDATE live_streams SET {set_clause(fields, UPDATABLE)}
        WHERE id = %(id)s AND user_id = %(owner)s RETURNING {COLUMNS}
        """,
        {**fields, "id": stream_id, "owner": owner_id},
        "Stream not found",
    )


async def get_key(db: Executor, user_id: UUID) -> str | None:
    return await db.fetch_val("SELECT stream_key FROM stream_keys WHERE user_id = %s", (user_id,))


async def set_key(db: Executor, user_id: UUID, key: str) -> None:
    await db.execute(
        """
        INSERT INTO stream_keys (user_id, stream_key) VALUES (%s, %s)
        ON CONFLICT (user_id) DO UPDATE SET stream_key = EXCLUDED.stream_key, created_at = now()
        """,
        (user_id, key),
    )


async def insert_key_if_missing(db: Executor, user_id: UUID, key: str) -> str:
    await db.execute(
        "INSERT INTO stream_keys (user_id, stream_key) VALUES (%s, %s) ON CONFLICT (user_id) DO NOTHING",
        (user_id, key),
    )
    return await get_key(db, user_id)


async def lock_key(db: Executor, user_id: UUID) -> str:
    """The user's key, its row locked until the transaction ends: one streamer's calls take turns."""
    return await db.fetch_val("SELECT stream_key FROM stream_keys WHERE user_id = %s FOR UPDATE", (user_id,))


async def user_by_key(db: Executor, key: str) -> UUID | None:
    return await db.fetch_val("SELECT user_id FROM stream_keys WHERE stream_key = %s", (key,))


async def stream_to_go_live(db: Executor, user_id: UUID, stale_after: float) -> Row | None:
    """The streamer's newest stream that has not ended, locked; `heartbeat_stale` when live but silent."""
    return await db.fetch_one(
        f"""
        SELECT {COLUMNS}, is_live AND heartbeat_at < now() - make_interval(secs => %s) AS heartbeat_stale
        FROM live_streams WHERE user_id = %s AND ended_at IS NULL
        ORDER BY is_live DESC, created_at DESC LIMIT 1 FOR UPDATE
        """,
        (stale_after, user_id),
    )


async def set_live(db: Executor, stream_id: UUID, publish_name: str, client: str) -> Row:
    return await db.fetch_one(
        f"""
        UPDATE live_streams SET is_live = true, publish_name = %s, publish_client = %s, heartbeat_at = now(),
               started_at = now(), ended_at = NULL, viewer_count = 0, updated_at = now()
        WHERE id = %s RETURNING {COLUMNS}
        """,
        (publish_name, client, stream_id),
    )


ENDED = (
    "is_live = false, publish_name = NULL, publish_client = NULL, ended_at = now(), viewer_count = 0, "
    "updated_at = now()"
)


# A stream that went live before sessions were recorded (publish_client NULL) belongs to whichever session calls.
SESSION_MATCHES = "publish_name = %(name)s AND coalesce(publish_client, %(client)s) = %(client)s AND is_live"


async def end_live(db: Executor, publish_name: str, client: str) -> Row | None:
    """End the stream that RTMP session `client` publishes under `publish_name`."""
    return await db.fetch_one(
        f"UPDATE live_streams SET {ENDED} WHERE {SESSION_MATCHES} RETURNING {COLUMNS}",
        {"name": publish_name, "client": client},
    )


async def end_stream(db: Executor, stream_id: UUID) -> Row | None:
    return await db.fetch_one(
        f"UPDATE live_streams SET {ENDED} WHERE id = %s AND is_live RETURNING {COLUMNS}", (stream_id,)
    )


async def end_stale(db: Executor, stale_after: float) -> list[Row]:
    """End every live stream whose last heartbeat is older than `stale_after` seconds."""
    return await db.fetch_all(
        f"""
        UPDATE live_streams SET {ENDED}
        WHERE is_live AND heartbeat_at < now() - make_interval(secs => %s) RETURNING {COLUMNS}
        """,
        (stale_after,),
    )


async def touch_heartbeat(db: Executor, publish_name: str, client: str) -> UUID | None:
    """Record that RTMP session `client` still publishes `publish_name`; None if it no longer holds a live stream."""
    return await db.fetch_val(
        f"""
        UPDATE live_streams SET heartbeat_at = now(), publish_client = %(client)s
        WHERE {SESSION_MATCHES} RETURNING id
        """,
        {"name": publish_name, "client": client},
    )


async def live_stream_by_id(db: Executor, name: str) -> Row | None:
    """The live stream an RTMP play name points at: its public id (never the key it is published with)."""
    return await db.fetch_one(f"SELECT {COLUMNS} FROM live_streams WHERE is_live AND id::text = %s", (name,))


async def add_viewers(db: Executor, stream_id: UUID, delta: int) -> int | None:
    return await db.fetch_val(
        "UPDATE live_streams SET viewer_count = greatest(viewer_count + %s, 0) WHERE id = %s AND is_live "
        "RETURNING viewer_count",
        (delta, stream_id),
    )


async def stream_exists(db: Executor, stream_id: UUID) -> bool:
    return await db.fetch_val("SELECT EXISTS (SELECT 1 FROM live_streams WHERE id = %s)", (stream_id,))


async def export_streams(db: Executor, user_id: UUID, after: UUID, limit: int) -> list[Row]:
    """The user's streams after id `after` (the data export): never the stream key, nor the name it published under."""
    return await db.fetch_all(
        """
        SELECT id, title, description, category, tags, is_live, started_at, ended_at, viewer_count,
               created_at, updated_at
        FROM live_streams WHERE user_id = %s AND id > %s ORDER BY id LIMIT %s
        """,
        (user_id, after, limit),
    )


async def end_user_streams(db: Executor, user_id: UUID) -> list[Row]:
    """End the user's live stream, if any; the streams it ended."""
    return await db.fetch_all(
        f"UPDATE live_streams SET {ENDED} WHERE user_id = %s AND is_live RETURNING {COLUMNS}", (user_id,)
    )


async def delete_user_streams(db: Executor, user_id: UUID) -> None:
    """Delete the user's streams and stream key."""
    await db.execute("DELETE FROM stream_keys WHERE user_id = %s", (user_id,))
    await db.execute("DELETE FROM live_streams WHERE user_id = %s", (user_id,))
