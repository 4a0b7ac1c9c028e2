"""SQL for cloud files, versions, shares, and storage use."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from veza.db import Executor, Row, escape_like, set_clause

FILE_COLUMNS = "id, user_id, name, tags, current_version, size_bytes, content_type, sha256, created_at, updated_at"
VERSION_COLUMNS = "id, file_id, version, storage_key, size_bytes, sha256, content_type, created_at"
SHARE_COLUMNS = (
    "id, file_id, permissions, expires_at, revoked_at, download_count, created_at, "
    "(revoked_at IS NULL AND expires_at > now()) AS active"
)
UPDATABLE = frozenset({"name", "tags"})


FILE_NOT_FOUND = "File not found"


# Files.


async def insert_file(db: Executor, fields: dict[str, Any]) -> Row:
    return await db.fetch_one(
        f"""
        INSERT INTO cloud_files (id, user_id, name, tags, current_version, size_bytes, content_type, sha256)
        VALUES (%(id)s, %(user_id)s, %(name)s, %(tags)s, 1, %(size_bytes)s, %(content_type)s, %(sha256)s)
        RETURNING {FILE_COLUMNS}
        """,
        fields,
    )


async def get_file(db: Executor, file_id: UUID, owner_id: UUID, *, lock: bool = False) -> Row:
    """The owner's file (locked FOR UPDATE if asked); another user's file is not found."""
    return await db.fetch_found(
        f"SELECT {FILE_COLUMNS} FROM cloud_files WHERE id = %s AND user_id = %s{' FOR UPDATE' if lock else ''}",
        (file_id, owner_id),
        FILE_NOT_FOUND,
    )


async def page_files(
    db: Executor, owner_id: UUID, *, search: str | None, tag: str | None, limit: int, offset: int
) -> tuple[list[Row], int]:
    where = "user_id = %(owner)s"
    if search:
        where += " AND name ILIKE %(like)s"
    if tag:
        where += " AND tags @> ARRAY[%(tag)s]::text[]"
    params = {"owner": owner_id, "like": f"%{escape_like(search or '')}%", "tag": tag}
    return await db.fetch_page(
        FILE_COLUMNS, f"cloud_files WHERE {where}", params, order_by="updated_at DESC, id", limit=limit, offset=offset
    )


async def update_file(db: Executor, file_id: UUID, owner_id: UUID, fields: dict[str, Any]) -> Row:
    if not fields:
        return await get_file(db, file_id, owner_id)
    return await db.fetch_found(
        f"""
        UPDATE cloud_files SET {set_clause(fields, UPDATABLE)}
        WHERE id = %(id)s AND user_id = %(owner)s RETURNING {FILE_COLUMNS}
        """,
        {**fields, "id": file_id, "owner": owner_id},
        FILE_NOT_FOUND,
    )


async def set_current(db: Executor, file_id: UUID, version: Row) -> Row:
    """Make `version` the file's current content."""
    return await db.fetch_one(
        f"""
        UPDATE cloud_files SET current_version = %(version)s, size_bytes = %(size_bytes)s,
               content_type = %(content_type)s, sha256 = %(sha256)s, updated_at = now()
        WHERE id = %(file_id)s RETURNING {FILE_COLUMNS}
        """,
        {**version, "file_id": file_id},
    )


async def delete_file(db: Executor, file_id: UUID, owner_id: UUID) -> list[Row]:
    """Delete the owner's file; return its distinct blobs (storage_key, size_bytes)."""
    await get_file(db, file_id, owner_id, lock=True)
    blobs = await db.fetch_all(
        "SELECT DISTINCT storage_key, size_bytes FROM cloud_file_versions WHERE file_id = %s ORDER BY storage_key",
        (file_id,),
    )
    await db.execute("DELETE FROM cloud_files WHERE id = %s", (file_id,))
    return blobs


# Versions.


async def insert_version(db: Executor, fields: dict[str, Any]) -> Row:
    return await db.fetch_one(
        f"""
        INSERT INTO cloud_file_versions (id, file_id, version, storage_key, size_bytes, sha256, content_type)
        VALUES (%(id)s, %(file_id)s, %(version)s, %(storage_key)s, %(size_bytes)s, %(sha256)s, %(content_type)s)
        RETURNING {VERSION_COLUMNS}
        """,
        fields,
    )


async def versions(db: Executor, file_id: UUID) -> list[Row]:
    return await db.fetch_all(
        f"SELECT {VERSION_COLUMNS} FROM cloud_file_versions WHERE file_id = %s ORDER BY version DESC", (file_id,)
    )


async def get_version(db: Executor, file_id: UUID, version: int) -> Row:
    return await db.fetch_found(
        f"SELECT {VERSION_COLUMNS} FROM cloud_file_versions WHERE file_id = %s AND version = %s",
        (file_id, version),
        "Version not found",
    )


async def current_version(db: Executor, file_id: UUID) -> Row:
    """A file's name and its current version, whoever owns it (for another domain that decided who may read it)."""
    return await db.fetch_found(
        """
        SELECT f.name, v.storage_key, v.content_type, v.size_bytes
        FROM cloud_files f JOIN cloud_file_versions v ON v.file_id = f.id AND v.version = f.current_version
        WHERE f.id = %s
        """,
        (file_id,),
        FILE_NOT_FOUND,
    )


# Storage use: committed bytes and the reservations of uploads in flight.


async def lock_usage(db: Executor, user_id: UUID) -> int:
    """The user's committed bytes, with their usage row locked until the transaction ends."""
    await db.execute("INSERT INTO cloud_usage (user_id) VALUES (%s) ON CONFLICT (user_id) DO NOTHING", (user_id,))
    return await db.fetch_val("SELECT used_bytes FROM cloud_usage WHERE user_id = %s FOR UPDATE", (user_id,))


async def used_bytes(db: Executor, user_id: UUID) -> int:
    return await db.fetch_val("SELECT used_bytes FROM cloud_usage WHERE user_id = %s", (user_id,)) or 0


async def add_used(db: Executor, user_id: UUID, delta: int) -> None:
    await db.execute(
        "UPDATE cloud_usage SET used_bytes = greatest(used_bytes + %s, 0) WHERE user_id = %s", (delta, user_id)
    )


async def reserved_by_others(db: Executor, user_id: UUID, reservation_id: UUID) -> int:
    """Bytes that the user's other uploads in flight hold; expired reservations are dropped."""
    await db.execute("DELETE FROM cloud_upload_reservations WHERE user_id = %s AND expires_at <= now()", (user_id,))
    return await db.fetch_val(
        "SELECT coalesce(sum(bytes), 0) FROM cloud_upload_reservations WHERE user_id = %s AND id <> %s",
        (user_id, reservation_id),
    )


async def set_reservation(db: Executor, reservation_id: UUID, user_id: UUID, size: int, ttl: int) -> None:
    await db.execute(
        """
        INSERT INTO cloud_upload_reservations (id, user_id, bytes, expires_at)
        VALUES (%s, %s, %s, now() + make_interval(secs => %s))
        ON CONFLICT (id) DO UPDATE SET bytes = EXCLUDED.bytes, expires_at = EXCLUDED.expires_at
        """,
        (reservation_id, user_id, size, ttl),
    )


async def drop_reservation(db: Executor, reservation_id: UUID) -> None:
    await db.execute("DELETE FROM cloud_upload_reservations WHERE id = %s", (reservation_id,))


async def owns_file(db: Executor, file_id: UUID, user_id: UUID) -> bool:
    return bool(await db.fetch_val("SELECT 1 FROM cloud_files WHERE id = %s AND user_id = %s", (file_id, user_id)))


async def file_count(db: Executor, user_id: UUID) -> int:
    return await db.fetch_val("SELECT count(*) FROM cloud_files WHERE user_id = %s", (user_id,))


# Shares.


async def insert_share(db: Executor, fields: dict[str, Any]) -> Row:
    return await db.fetch_one(
        f"""
        INSERT INTO cloud_shares (file_id, token_hash, created_by, permissions, expires_at)
        VALUES (%(file_id)s, %(token_hash)s, %(created_by)s, %(permissions)s,
                now() + make_interval(hours => %(hours)s))
        RETURNING {SHARE_COLUMNS}
        """,
        fields,
    )


async def page_shares(db: Executor, file_id: UUID, *, limit: int, offset: int) -> tuple[list[Row], int]:
    return await db.fetch_page(
        SHARE_COLUMNS,
        "cloud_shares WHERE file_id = %(file)s",
        {"file": file_id},
        order_by="created_at DESC, id",
        limit=limit,
        offset=offset,
    )


async def revoke_share(db: Executor, share_id: UUID, owner_id: UUID) -> Row:
    """Revoke a share of one of the owner's files (revoking twice keeps the first time)."""
    return await db.fetch_found(
        f"""
        UPDATE cloud_shares SET revoked_at = coalesce(revoked_at, now())
        WHERE id = %s AND file_id IN (SELECT id FROM cloud_files WHERE user_id = %s)
        RETURNING {SHARE_COLUMNS}
        """,
        (share_id, owner_id),
        "Share not found",
    )


async def shared_file(db: Executor, token_hash: bytes) -> Row | None:
    """The file behind an active share, with the share's id, permissions and expiry."""
    return await db.fetch_one(
        """
        SELECT s.id AS share_id, s.permissions, s.expires_at,
               f.id, f.name, f.tags, f.size_bytes, f.content_type, f.current_version
        FROM cloud_shares s JOIN cloud_files f ON f.id = s.file_id
        WHERE s.token_hash = %s AND s.revoked_at IS NULL AND s.expires_at > now()
        """,
        (token_hash,),
    )


async def count_download(db: Executor, share_id: UUID) -> None:
    await db.execute("UPDATE cloud_shares SET download_count = download_count + 1 WHERE id = %s", (share_id,))


async def export_files(db: Executor, user_id: UUID, after: UUID, limit: int) -> list[Row]:
    """The user's files after id `after`, each with its versions' metadata (the data export)."""
    return await db.fetch_all(
        """
        SELECT f.id, f.name, f.tags, f.current_version, f.size_bytes, f.content_type,
               encode(f.sha256, 'hex') AS sha256, f.created_at, f.updated_at,
               (SELECT json_agg(json_build_object(
                    'version', v.version, 'size_bytes', v.size_bytes, 'sha256', encode(v.sha256, 'hex'),
                    'content_type', v.content_type, 'created_at', v.created_at
                ) ORDER BY v.version) FROM cloud_file_versions v WHERE v.file_id = f.id) AS versions
        FROM cloud_files f WHERE f.user_id = %s AND f.id > %s ORDER BY f.id LIMIT %s
        """,
        (user_id, after, limit),
    )


# A deleted account's erasure (veza/cloud/erasure.py).


async def user_file_ids(db: Executor, user_id: UUID, after: UUID, limit: int) -> list[UUID]:
    rows = await db.fetch_all(
        "SELECT id FROM cloud_files WHERE user_id = %s AND id > %s ORDER BY id LIMIT %s", (user_id, after, limit)
    )
    return [row["id"] for row in rows]


async def delete_versions_but_current(db: Executor, file_id: UUID) -> None:
    await db.execute(
        """
        DELETE FROM cloud_file_versions v USING cloud_files f
        WHERE v.file_id = %s AND f.id = v.file_id AND v.version <> f.current_version
        """,
        (file_id,),
    )


async def forget_user(db: Executor, user_id: UUID) -> None:
    """The user's share links, storage use and upload reservations."""
    await db.execute("DELETE FROM cloud_shares WHERE created_by = %s", (user_id,))
    await db.execute("DELETE FROM cloud_upload_reservations WHERE user_id = %s", (user_id,))
    await db.execute("DELETE FROM cloud_usage WHERE user_id = %s", (user_id,))
