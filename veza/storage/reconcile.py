"""Reconcile storage with the database: delete blobs that no row names, report rows whose blob is gone.

A deleted file's blobs go after its COMMIT, so a crash in between leaves
blobs that nothing points at; an upload writes its blob before its row, so a
blob without a row may also be an upload about to commit. Hence the rules:

- only blobs under a prefix listed in ``queries.BLOB_COLUMNS`` are candidates,
  and only once older than ``storage_orphan_grace_seconds``;
- a candidate is checked against every column that names blobs in the same
  query that picks it, just before it is deleted;
- a row is reported missing only if it was written before the scan began and
  its blob is still absent when checked again (a scan may miss an object
  written while it ran);
- one run at a time (a PostgreSQL advisory lock); a run that finds the lock
  taken does nothing. Deleting is idempotent, so a rerun after a crash is safe;
- an upload that an outage or a crash cut short may leave an unfinished
  multipart upload on S3 (parts stored, no object): those begun before the
  grace period are aborted;
- when most old blobs look unreferenced (the database is not the one this
  storage belongs to, or was restored from an old backup), nothing is deleted
  unless forced.

The last run's summary is kept in Redis for /health/deep, and logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from veza.constants import STORAGE_RECONCILIATION_KEY
from veza.db import Session, session
from veza.http import json_dumps
from veza.keys import DB, REDIS, SETTINGS, STORAGE
from veza.storage import queries
from veza.storage.base import Storage

log = logging.getLogger(__name__)

BATCH = 1000  # keys compared or deleted per query
MISSING_SHOWN = 20  # rows missing their blob that /health/deep lists (all are counted and logged)
MISSING_LOGGED = 1000  # one log record per missing row up to this many, then only the count
# Refuse to delete when at least this many old blobs are unreferenced and they are most of them.
MASS_DELETE_MIN = 100
MASS_DELETE_SHARE = 0.5
STALE_AFTER = timedelta(hours=48)  # /health/deep warns when the daily run has not finished since


@dataclass
class Reconciliation:
    started_at: datetime
    finished_at: datetime | None = None
    duration_seconds: float = 0.0
    dry_run: bool = False
    skipped: bool = False  # another run held the lock
    scanned: int = 0
    orphans_found: int = 0  # older than the grace period, named by no row
    orphans_deleted: int = 0
    uploads_aborted: int = 0  # unfinished uploads older than the grace period
    delete_failures: int = 0
    refused: str | None = None
    missing: int = 0  # rows whose blob is not in storage
    missing_rows: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return asdict(self)


async def reconcile(
    app: web.Application, *, now: datetime | None = None, dry_run: bool = False, force: bool = False
) -> Reconciliation:
    """One pass over every prefix that rows name blobs under; `now` decides which blobs are old enough."""
    clock = time.monotonic()
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(seconds=app[SETTINGS].storage_orphan_grace_seconds)
    result = Reconciliation(started_at=datetime.now(UTC), dry_run=dry_run)
    storage = app[STORAGE]
    async with session(app[DB]) as db:
        if not await queries.try_lock(db):
            log.info("storage reconciliation skipped: another one is running")
            result.skipped = True
            return result
        await queries.create_scan(db)
        for prefix in queries.BLOB_COLUMNS:
            await queries.clear_scan(db)
            scan_began = await queries.now(db)
            await _scan(db, storage, prefix, result)
            await _report_missing(db, storage, prefix, scan_began, result)
            await _delete_orphans(db, storage, prefix, cutoff, result, dry_run=dry_run, force=force)
            if not dry_run:
                result.uploads_aborted += await storage.abort_stale_uploads(prefix, cutoff)
    result.finished_at = datetime.now(UTC)
    result.duration_seconds = round(time.monotonic() - clock, 3)
    if not dry_run:
        await app[REDIS].set(STORAGE_RECONCILIATION_KEY, json_dumps(result.summary()))
    log.info(
        "storage reconciled: %d blobs scanned, %d orphans deleted, %d unfinished uploads aborted, "
        "%d rows missing their blob",
        result.scanned,
        result.orphans_deleted,
        result.uploads_aborted,
        result.missing,
        extra={"fields": {"reconciliation": result.summary()}},
    )
    return result


async def _scan(db: Session, storage: Storage, prefix: str, result: Reconciliation) -> None:
    batch = []
    async for item in storage.scan(prefix):
        batch.append(item)
        if len(batch) == BATCH:
            await queries.add_scanned(db, batch)
            result.scanned += len(batch)
            batch = []
    if batch:
        await queries.add_scanned(db, batch)
        result.scanned += len(batch)


async def _report_missing(
    db: Session, storage: Storage, prefix: str, scan_began: datetime, result: Reconciliation
) -> None:
    for table, column in queries.BLOB_COLUMNS[prefix]:
        after: tuple[str, Any] = (prefix, "00000000-0000-0000-0000-000000000000")
        while rows := await queries.naming_page(db, prefix, table, column, after, BATCH):
            after = (rows[-1]["storage_key"], rows[-1]["id"])
            present: dict[str, bool] = {}
            for row in rows:
                key = row["storage_key"]
                if row["seen"] or row["created_at"] >= scan_began:
                    continue
                if key not in present:
                    present[key] = await storage.exists(key)
                if not present[key]:
                    _record_missing(result, table, str(row["id"]), key)


def _record_missing(result: Reconciliation, table: str, row_id: str, key: str) -> None:
    result.missing += 1
    entry = {"table": table, "id": row_id, "storage_key": key}
    if len(result.missing_rows) < MISSING_SHOWN:
        result.missing_rows.append(entry)
    if result.missing <= MISSING_LOGGED:
        log.warning("row %s of %s names blob %s, which storage lacks", row_id, table, key, extra={"fields": entry})


async def _orphans(db: Session, prefix: str, cutoff: datetime) -> AsyncIterator[tuple[int, list[str]]]:
    """Page by page: how many scanned blobs are older than cutoff, and the keys of those that no row names."""
    after = ""
    while page := await queries.scanned_page(db, prefix, after, BATCH):
        after = page[-1]["key"]
        old = [item for item in page if item["modified"] < cutoff]
        yield len(old), [item["key"] for item in old if not item["named"]]


async def _delete_orphans(
    db: Session, storage: Storage, prefix: str, cutoff: datetime, result: Reconciliation, *, dry_run: bool, force: bool
) -> None:
    old = found = 0
    async for old_in_page, orphans in _orphans(db, prefix, cutoff):
        old += old_in_page
        found += len(orphans)
    result.orphans_found += found
    if dry_run or not found:
        return
    if not force and found >= MASS_DELETE_MIN and found > old * MASS_DELETE_SHARE:
        result.refused = (
            f"{found} of the {old} blobs under {prefix} older than the grace period are named by no row: "
            "is this the database that goes with this storage? Nothing was deleted; "
            "run `veza reconcile-storage --force` once sure"
        )
        log.error("storage reconciliation refused to delete: %s", result.refused)
        return
    # Whether a row names a blob is asked again here, just before it goes.
    async for _, orphans in _orphans(db, prefix, cutoff):
        for key in orphans:
            try:
                await storage.delete(key)
            except Exception:
                result.delete_failures += 1
                log.exception("could not delete orphan blob %s", key)
            else:
                result.orphans_deleted += 1
                log.info("deleted orphan blob %s", key, extra={"fields": {"storage_key": key}})


async def last_reconciliation(app: web.Application) -> dict[str, Any]:
    """The deep-health check: the last run's summary; a warning when rows miss blobs or runs stopped."""
    stored = await app[REDIS].get(STORAGE_RECONCILIATION_KEY)
    if stored is None:
        return {"status": "ok", "details": {"last_run": None}}
    details = orjson.loads(stored)
    finished = datetime.fromisoformat(details["finished_at"])
    problems = details["missing"] or details["refused"] or details["delete_failures"]
    stale = datetime.now(UTC) - finished > STALE_AFTER
    return {"status": "warning" if problems or stale else "ok", "details": {**details, "stale": stale}}
