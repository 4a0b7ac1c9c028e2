"""SQL for reconciling storage with the database.

A scan of the storage goes into a temporary table, a batch at a time; the
database then compares it with the rows that name blobs, so that no side is
ever held in memory whole.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from veza.db import Executor, Row
from veza.storage.base import StoredObject

# Every column that names a blob, by the prefix its keys live under. A blob under one of these
# prefixes that none of its columns names is an orphan; blobs under other prefixes are never
# touched. A table that starts naming blobs must be listed here (tests/test_reconcile.py checks
# every `storage_key` column is). Products sell cloud files: their blobs are the files' versions'.
# Each table has `id` and `created_at`.
BLOB_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "cloud/": (("cloud_file_versions", "storage_key"),),
    "invoices/": (("invoices", "storage_key"),),
    "gear/": (("gear_documents", "storage_key"),),
    "exports/": (("data_exports", "storage_key"),),
}

RECONCILE_LOCK = 0x7665_7A61_0001  # pg advisory lock id: one reconciliation at a time


def _named(prefix: str) -> str:
    return " OR ".join(
        f"EXISTS (SELECT 1 FROM {table} r WHERE r.{column} = s.key)" for table, column in BLOB_COLUMNS[prefix]
    )


async def try_lock(db: Executor) -> bool:
    """Take the session's reconciliation lock, unless another session holds it."""
    return await db.fetch_val("SELECT pg_try_advisory_lock(%s)", (RECONCILE_LOCK,))


async def now(db: Executor) -> datetime:
    return await db.fetch_val("SELECT now()")


async def create_scan(db: Executor) -> None:
    await db.execute("CREATE TEMPORARY TABLE storage_scan (key text PRIMARY KEY, modified timestamptz NOT NULL)")


async def clear_scan(db: Executor) -> None:
    await db.execute("TRUNCATE storage_scan")


async def add_scanned(db: Executor, objects: list[StoredObject]) -> None:
    await db.execute(
        """
        INSERT INTO storage_scan (key, modified)
        SELECT * FROM unnest(%s::text[], %s::timestamptz[]) ON CONFLICT (key) DO NOTHING
        """,
        ([item.key for item in objects], [item.modified for item in objects]),
    )


# Pages walk an index and stop after `limit` rows, so each statement stays short however large the
# tables: a statement timeout never hits, and nothing is held but a page.


async def scanned_page(db: Executor, prefix: str, after: str, limit: int) -> list[Row]:
    """The next scanned blobs after key `after`, in key order, each with whether a row names it."""
    return await db.fetch_all(
        f"""
        SELECT s.key, s.modified, ({_named(prefix)}) AS named
        FROM storage_scan s WHERE s.key > %s ORDER BY s.key LIMIT %s
        """,
        (after, limit),
    )


async def naming_page(
    db: Executor, prefix: str, table: str, column: str, after: tuple[str, Any], limit: int
) -> list[Row]:
    """The next rows of `table` after (key, id) that name a blob under `prefix`, each with whether the scan saw it."""
    return await db.fetch_all(
        f"""
        SELECT r.id, r.{column} AS storage_key, r.created_at,
               EXISTS (SELECT 1 FROM storage_scan s WHERE s.key = r.{column}) AS seen
        FROM {table} r
        WHERE r.{column} >= %(key)s AND (r.{column}, r.id) > (%(key)s, %(id)s) AND starts_with(r.{column}, %(prefix)s)
        ORDER BY r.{column}, r.id LIMIT %(limit)s
        """,
        {"prefix": prefix, "key": after[0], "id": after[1], "limit": limit},
    )
