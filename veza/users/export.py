"""Data exports (GDPR): a ZIP of everything the user holds, built by a worker and stored under exports/.

One export in progress per user, one new export a day. The archive is written to a temporary file a page
of rows at a time (memory does not grow with the amount of data), then streamed to the storage. Each
domain's rows come through that domain's queries module. Ready archives are kept for 7 days; the ready
notification carries a link presigned until then, and each GET presigns a fresh one.
"""

from __future__ import annotations

import logging
import tempfile
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import IO, Any
from uuid import UUID

from aiohttp import web

from veza.cloud import queries as cloud_queries
from veza.constants import EXPORT_JOB
from veza.db import Executor, Row, UniqueViolation, transaction
from veza.errors import RateLimited
from veza.gear import queries as gear_queries
from veza.http import json_dumps
from veza.jobs import enqueue
from veza.keys import DB, SETTINGS, STORAGE
from veza.live import queries as live_queries
from veza.marketplace import order_queries, refund_queries, review_queries
from veza.marketplace import queries as marketplace_queries
from veza.notifications import queries as notification_queries
from veza.notifications.service import notify
from veza.payments import transfer_queries
from veza.storage.base import CHUNK_SIZE, MAX_PRESIGN_SECONDS
from veza.users import export_queries as queries
from veza.users import queries as user_queries

log = logging.getLogger(__name__)

KEEP = timedelta(days=7)  # a ready archive's life
EVERY = timedelta(days=1)  # one new export per user per day
JOB_TIMEOUT = 30 * 60  # seconds the build job may run
STALE_AFTER = timedelta(seconds=JOB_TIMEOUT + 5 * 60)  # an export still open this long after queued is lost
MAX_ATTEMPTS = 3  # times the sweep queues a lost export again before it is failed
PAGE = 500  # rows read at a time
SPOOL_BYTES = 8 * 1024 * 1024  # an archive smaller than this never touches the disk
SWEEP_BATCH = 500
ZIP = "application/zip"

Fetch = Callable[[Executor, UUID, UUID, int], Awaitable[list[Row]]]
FIRST_ID = UUID(int=0)

# (file, what it holds, the domain's query giving the user's rows a page at a time)
SECTIONS: tuple[tuple[str, str, Fetch], ...] = (
    ("orders.json", "your orders as a buyer, with their items", order_queries.export_orders),
    ("purchases.json", "the licenses you bought", order_queries.export_licenses),
    ("products.json", "the products you list or listed as a seller", marketplace_queries.export_products),
    ("reviews.json", "the reviews you wrote", review_queries.export_reviews),
    ("transfers.json", "the payouts of your sales to you as a seller", transfer_queries.export_transfers),
    ("refunds.json", "the refunds you asked for", refund_queries.export_refunds),
    ("streams.json", "your live streams (your stream key is never exported)", live_queries.export_streams),
    ("notifications.json", "the notifications you were sent", notification_queries.export_rows),
    ("cloud_files.json", "your cloud files' metadata and versions (not their bytes)", cloud_queries.export_files),
    ("gear.json", "your gear items with their documents' metadata and repairs", gear_queries.export_items),
)


def readme() -> str:
    lines = [
        "Your Veza data export",
        "",
        "Each file is JSON (UTF-8). Times are UTC (ISO 8601), amounts in cents of their currency.",
        "",
        "profile.json: your account (id, username, email, role, dates)",
        *(f"{name}: {about}" for name, about, _ in SECTIONS),
        "",
        "Files you stored (cloud files, gear documents) are downloaded from the app itself.",
    ]
    return "\n".join(lines) + "\n"


def storage_key(export: Row) -> str:
    return f"exports/{export['user_id']}/{export['id']}.zip"


def job_id(export_id: UUID | str, attempt: int) -> str:
    """The build job's id: one job per export and attempt, whoever enqueues it."""
    return f"export:{export_id}:{attempt}"


async def queue_build(app: web.Application, export_id: UUID, attempt: int) -> None:
    await enqueue(app, EXPORT_JOB, str(export_id), job_id=job_id(export_id, attempt))


async def request_export(app: web.Application, user_id: UUID) -> Row:
    """The user's export in progress, or a new one queued; 429 if their last one is less than a day old."""
    db = app[DB]
    if existing := await queries.open_export(db, user_id):
        return existing
    last = await queries.last_counted(db, user_id)
    if last and last["wait_seconds"] > 0:
        raise RateLimited(last["wait_seconds"], "One data export a day: the next one can be asked for later")
    try:
        async with transaction(db) as tx:
            export = await queries.insert(tx, user_id)
            tx.after_commit(queue_build, app, export["id"], 0)
    except UniqueViolation:  # a concurrent request made it first
        if existing := await queries.open_export(db, user_id):
            return existing
        raise
    return export


async def describe(app: web.Application, export: Row) -> dict[str, Any]:
    """The export as the API shows it: a fresh download URL, valid until the archive expires, while ready."""
    status, url = export["status"], None
    if status == "ready":
        left = int((export["expires_at"] - datetime.now(UTC)).total_seconds())
        if left <= 0:
            status = "expired"  # the daily cron has not deleted it yet
        else:
            filename = f"veza-export-{export['created_at']:%Y-%m-%d}.zip"
            url = await app[STORAGE].presign(export["storage_key"], min(left, MAX_PRESIGN_SECONDS), filename, ZIP)
    return {
        "id": export["id"],
        "status": status,
        "size_bytes": export["size_bytes"] if status == "ready" else None,
        "created_at": export["created_at"],
        "finished_at": export["finished_at"],
        "expires_at": export["expires_at"],
        "download_url": url,
    }


async def _write_rows(out: IO[bytes], db: Executor, user_id: UUID, fetch: Fetch) -> None:
    out.write(b"[")
    after, first = FIRST_ID, True
    while rows := await fetch(db, user_id, after, PAGE):
        for row in rows:
            out.write((b"\n" if first else b",\n") + json_dumps(row))
            first = False
        after = rows[-1]["id"]
        if len(rows) < PAGE:
            break
    out.write(b"\n]\n")


async def write_archive(db: Executor, user_id: UUID, file: IO[bytes]) -> None:
    """The user's archive, written into `file` a page of rows at a time."""
    with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", readme())
        archive.writestr("profile.json", json_dumps(await user_queries.get_user(db, user_id)))
        for name, _, fetch in SECTIONS:
            with archive.open(name, "w", force_zip64=True) as out:
                await _write_rows(out, db, user_id, fetch)


async def _chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    file.seek(0)
    while chunk := file.read(CHUNK_SIZE):
        yield chunk


async def build_export(app: web.Application, export_id: UUID) -> str:
    """Build and store the export's archive, then mark it ready and tell its owner; a failure marks it
    failed and tells them too. Safe to run twice: a finished export is left as it is. Returns its status."""
    db = app[DB]
    export = await queries.claim(db, export_id)
    if export is None:
        return "finished" if await queries.get(db, export_id) else "missing"
    key = storage_key(export)
    try:
        tmp = app[SETTINGS].data_dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        with tempfile.SpooledTemporaryFile(SPOOL_BYTES, dir=tmp) as file:
            await write_archive(db, export["user_id"], file)
            size = await app[STORAGE].put(key, _chunks(file), content_type=ZIP)
    except Exception as exc:
        log.exception("data export %s failed", export_id)
        await fail(app, export_id, f"{type(exc).__name__}: {exc}"[:500])
        return "failed"
    async with transaction(db) as tx:
        ready = await queries.mark_ready(tx, export_id, key, size, KEEP)
        if ready is not None:
            link = await describe(app, ready)  # presigned until the archive expires; GET presigns it afresh
            await notify(
                app,
                ready["user_id"],
                "export.ready",
                "Your data export is ready",
                "Download it within 7 days: the link in this notification, or your account's exports.",
                {
                    "export_id": str(export_id),
                    "download_url": link["download_url"],
                    "expires_at": ready["expires_at"].isoformat(),
                },
                tx=tx,
            )
    return "ready" if ready else "finished"


async def fail(app: web.Application, export_id: UUID, error: str) -> None:
    async with transaction(app[DB]) as tx:
        failed = await queries.mark_failed(tx, export_id, error)
        if failed is not None:
            await notify(
                app,
                failed["user_id"],
                "export.failed",
                "Your data export failed",
                "Something went wrong while building it; you can ask for a new one.",
                {"export_id": str(export_id)},
                tx=tx,
            )


async def delete_expired(app: web.Application) -> int:
    """Delete the archives past their expiry (blob first: a crash leaves a row that is retried, never an
    orphan blob); returns how many expired."""
    db, count = app[DB], 0
    while rows := await queries.expired(db, SWEEP_BATCH):
        for export in rows:
            await app[STORAGE].delete(export["storage_key"])
            count += await queries.mark_expired(db, export["id"])
        if len(rows) < SWEEP_BATCH:
            break
    return count


async def requeue_stale(app: web.Application) -> int:
    """Queue again the exports left pending or running past the job's timeout (a worker crashed); after
    MAX_ATTEMPTS such attempts the export is failed. Returns how many were seen."""
    stale = await queries.requeue_stale(app[DB], STALE_AFTER, SWEEP_BATCH)
    for export in stale:
        if export["attempts"] > MAX_ATTEMPTS:
            await fail(app, export["id"], "the export job did not finish")
        else:
            await queue_build(app, export["id"], export["attempts"])
    return len(stale)
