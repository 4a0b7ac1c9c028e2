"""SQL for reconciling storage with the database.

A scan of the storage goes into a temporary table, a batch at a time; the
database then compares it with the rows that name blobs, so that no side is
ever held in memory whole.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from veza.db import Queries, Row
from veza.storage.base import StoredObject

# Every column that names a blob, by the prefix its keys live under. A blob under one of these
# prefixes that none of its columns names is an orphan; blobs under other prefixes are never
# touched. A table that starts naming blobs must be listed here (tests/test_reconcile.py checks
# every `storage_key` column is). Products sell cloud files: their blobs are the files' versions'.
# Each table has `id` and `created_at`.
BLOB_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "cloud/": (("cloud_file_versions", "storage_key"),),
}

RECONCILE_LOCK = 0x7665_7A61_0001  # pg advisory lock id: one reconciliation at a time


def _not_named(prefix: str, alias: str = "s") -> str:
    return " AND ".join(
        f"NOT EXISTS (SELECT 1 FROM {table} r WHERE r.{column} = {alias}.key)" for table, column in BLOB_COLUMNS[prefix]
    )


async def try_lock(db: Queries) -> bool:
    """Take the session's reconciliation lock, unless another session holds it."""
    return await db.fetch_val("SELECT pg_try_advisory_lock(%s)", (RECONCILE_LOCK,))


async def now(db: Queries) -> datetime:
    return await db.fetch_val("SELECT now()")


async def create_scan(db: Queries) -> None:
    await db.execute("CREATE TEMPORARY TABLE storage_scan (key text PRIMARY KEY, modified timestamptz NOT NULL)")


async def clear_scan(db: Queries) -> None:
    await db.execute("TRUNCATE storage_scan")


async def add_scanned(db: Queries, objects: list[StoredObject]) -> None:
    await db.execute(
        """
        INSERT INTO storage_scan (key, modified)
        SELECT * FROM unnest(%s::text[], %s::timestamptz[]) ON CONFLICT (key) DO NOTHING
        """,
        ([item.key for item in objects], [item.modified for item in objects]),
    )


async def count_orphans(db: Queries, prefix: str, cutoff: datetime) -> tuple[int, int]:
    """(scanned blobs older than cutoff, those of them that no row names)."""
    row = await db.fetch_one(
        f"""
        SELECT count(*) AS old, count(*) FILTER (WHERE {_not_named(prefix)}) AS orphans
        FROM storage_scan s WHERE s.modified < %s
        """,
        (cutoff,),
    )
    assert row is not None
    return row["old"], row["orphans"]


async def orphans(db: Queries, prefix: str, cutoff: datetime, after: str, limit: int) -> list[str]:
    """Keys after `after` of scanned blobs older than cutoff that no row names, in key order."""
    rows = await db.fetch_all(
        f"""
        SELECT s.key FROM storage_scan s
        WHERE s.key > %(after)s AND s.modified < %(cutoff)s AND {_not_named(prefix)}
        ORDER BY s.key LIMIT %(limit)s
        """,
        {"after": after, "cutoff": cutoff, "limit": limit},
    )
    return [row["key"] for row in rows]


async def missing(
    db: Queries, prefix: str, table: str, column: str, *, before: datetime, after: tuple[str, Any], limit: int
) -> list[Row]:
    """Rows of `table` created before `before` whose blob the scan did not see, after `after` = (key, id)."""
    return await db.fetch_all(
        f"""
        SELECT r.id, r.{column} AS storage_key FROM {table} r
        WHERE starts_with(r.{column}, %(prefix)s) AND r.created_at < %(before)s
          AND (r.{column}, r.id) > (%(key)s, %(id)s)
          AND NOT EXISTS (SELECT 1 FROM storage_scan s WHERE s.key = r.{column})
        ORDER BY r.{column}, r.id LIMIT %(limit)s
        """,
        {"prefix": prefix, "before": before, "key": after[0], "id": after[1], "limit": limit},
    )
