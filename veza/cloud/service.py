"""Cloud files and their versions: uploads, new content, snapshots, restores, deletion.

A version never changes once written and none is ever deleted while its file
lives: new content, a snapshot and a restore each add the next version,
numbered under a lock on the file row (no gaps, no duplicates). Snapshots and
restores point the new version at the blob they copy, so blobs are shared
between versions of one file and are deleted only with the file.

The order that keeps storage and database in step: the blob is complete
before its row is written; a row that cannot be written takes its blob with
it; a deleted file's blobs go after the COMMIT (a crash between leaves an
orphan blob, never a row without its blob).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

from aiohttp import web

from veza.auth.tokens import AuthUser
from veza.cloud import queries, uploads
from veza.cloud.models import FileUpdate, UploadFields
from veza.cloud.names import sanitize_name, storage_key
from veza.cloud.quota import Reservation
from veza.cloud.uploads import Received, Source
from veza.db import Database, IntegrityError, Row, transaction
from veza.errors import Conflict, Invalid
from veza.http import validate
from veza.keys import DB, SETTINGS, STORAGE
from veza.marketplace.assets import release_asset
from veza.storage import Download, Storage
from veza.tags.normalize import normalize_tags
from veza.tasks import run_to_end

log = logging.getLogger(__name__)


async def receive(
    app: web.Application, user: AuthUser, key: str, source: Source, *, limit: int | None = None
) -> tuple[Received, dict[str, Any], Reservation]:
    """Stream the source's file to `key`, holding quota for it; the caller releases the reservation.

    `limit` may lower UPLOAD_MAX_BYTES for one kind of upload (never raise it).
    """
    settings, storage = app[SETTINGS], app[STORAGE]
    limit = settings.upload_max_bytes if limit is None else min(limit, settings.upload_max_bytes)
    max_size = source.max_size(limit)
    ceiling = min(limit, max_size) if max_size is not None else limit
    reservation = Reservation(app[DB], user.id, settings.user_quota_bytes, ceiling)
    stored = False

    async def store(chunks: AsyncIterator[bytes], filename: str | None, content_type: str | None) -> Received:
        nonlocal stored
        received = await uploads.store(
            storage, key, chunks, limit=limit, reservation=reservation, content_type=content_type, filename=filename
        )
        stored = True
        return received

    try:
        # A known size tells at once whether the file can fit.
        await reservation.ensure(max(0, (max_size or 0) - source.framing))
        received, fields = await source.read(store)
    except BaseException:
        if stored:
            await run_to_end(app, uploads.discard_blob(storage, key))
        await run_to_end(app, reservation.release())
        raise
    return received, fields, reservation


async def _record(db: Database, storage: Storage, key: str, version_id: UUID, reservation: Reservation, write) -> Row:
    """Run `write(tx)` to record a stored blob; on failure the blob goes, unless its row made it after all."""
    try:
        async with transaction(db) as tx:
            return await write(tx)
    except BaseException:
        try:
            recorded = await db.fetch_val("SELECT 1 FROM cloud_file_versions WHERE id = %s", (version_id,))
        except Exception:
            recorded = True  # unknown: an orphan blob is better than a row without its blob
        if not recorded:
            await uploads.discard_blob(storage, key)
        raise
    finally:
        await reservation.release()


def _version_fields(version_id: UUID, file_id: UUID, number: int, key: str, received: Received) -> dict[str, Any]:
    return {
        "id": version_id,
        "file_id": file_id,
        "version": number,
        "storage_key": key,
        "size_bytes": received.size,
        "sha256": received.sha256,
        "content_type": received.content_type,
    }


async def upload_file(app: web.Application, user: AuthUser, source: Source) -> Row:
    """POST /cloud/files: a new file whose first version is the uploaded content (`name`, `tags` optional)."""
    file_id, version_id = uuid4(), uuid4()
    key = storage_key(user.id, file_id, version_id)
    received, fields, reservation = await receive(app, user, key, source)
    try:
        form: UploadFields = validate(UploadFields, fields)  # type: ignore[assignment]
    except BaseException:
        await run_to_end(app, uploads.discard_blob(app[STORAGE], key))
        await run_to_end(app, reservation.release())
        raise
    tags = normalize_tags(form.tags)
    name = sanitize_name(form.name if form.name and form.name.strip() else received.filename)

    async def write(tx) -> Row:
        await reservation.commit(tx, received.size)
        row = await queries.insert_file(
            tx,
            {
                "id": file_id,
                "user_id": user.id,
                "name": name,
                "tags": tags,
                "size_bytes": received.size,
                "content_type": received.content_type,
                "sha256": received.sha256,
            },
        )
        await queries.insert_version(tx, _version_fields(version_id, file_id, 1, key, received))
        return row

    return await run_to_end(app, _record(app[DB], app[STORAGE], key, version_id, reservation, write))


async def upload_content(app: web.Application, user: AuthUser, file_id: UUID, source: Source) -> Row:
    """PUT /cloud/files/{id}/content: the upload becomes the file's next version."""
    db = app[DB]
    await queries.get_file(db, file_id, user.id)  # 404 before a byte of the body is read
    version_id = uuid4()
    key = storage_key(user.id, file_id, version_id)
    received, _, reservation = await receive(app, user, key, source)

    async def write(tx) -> Row:
        current = await queries.get_file(tx, file_id, user.id, lock=True)
        await reservation.commit(tx, received.size)
        version = await queries.insert_version(
            tx, _version_fields(version_id, file_id, current["current_version"] + 1, key, received)
        )
        return await queries.set_current(tx, file_id, version)

    return await run_to_end(app, _record(db, app[STORAGE], key, version_id, reservation, write))


async def _add_version_from(app: web.Application, user: AuthUser, file_id: UUID, number: int | None) -> Row:
    """A new version whose content is version `number`'s (the current one if None); it becomes current."""
    async with transaction(app[DB]) as tx:
        file = await queries.get_file(tx, file_id, user.id, lock=True)
        source = await queries.get_version(tx, file_id, number or file["current_version"])
        version = await queries.insert_version(
            tx,
            {
                **source,
                "id": uuid4(),
                "file_id": file_id,
                "version": file["current_version"] + 1,
            },
        )
        await queries.set_current(tx, file_id, version)
    return version


async def snapshot(app: web.Application, user: AuthUser, file_id: UUID) -> Row:
    """POST /cloud/files/{id}/versions: record the current content as a new version."""
    return await _add_version_from(app, user, file_id, None)


async def restore(app: web.Application, user: AuthUser, file_id: UUID, number: int) -> Row:
    """POST /cloud/files/{id}/restore/{version}: that version's content, current again as a new version."""
    await _add_version_from(app, user, file_id, number)
    return await queries.get_file(app[DB], file_id, user.id)


async def list_versions(app: web.Application, user: AuthUser, file_id: UUID) -> list[Row]:
    db = app[DB]
    await queries.get_file(db, file_id, user.id)
    return await queries.versions(db, file_id)


async def update_file(app: web.Application, user: AuthUser, file_id: UUID, body: FileUpdate) -> Row:
    changes: dict[str, Any] = {}
    if body.name is not None:
        changes["name"] = sanitize_name(body.name)
        if changes["name"] == "untitled" and body.name.strip() != "untitled":
            raise Invalid(details=[{"field": "name", "message": "nothing is left of this name once made safe"}])
    if body.tags is not None:
        changes["tags"] = normalize_tags(body.tags)
    async with transaction(app[DB]) as tx:
        return await queries.update_file(tx, file_id, user.id, changes)


async def delete_file(app: web.Application, user: AuthUser, file_id: UUID) -> None:
    """Delete the file, its versions and shares; its blobs go once the deletion is committed.

    A file that a product sells to its buyers stays (409); a product that nobody ordered goes with its file.
    """
    try:
        async with transaction(app[DB]) as tx:
            await queries.get_file(tx, file_id, user.id, lock=True)  # another user's file is a 404, whatever sells it
            await release_asset(app, tx, file_id)
            blobs = await queries.delete_file(tx, file_id, user.id)
            await queries.lock_usage(tx, user.id)
            await queries.add_used(tx, user.id, -sum(blob["size_bytes"] for blob in blobs))
            tx.after_commit(delete_blobs, app[STORAGE], [blob["storage_key"] for blob in blobs])
    except IntegrityError:  # another table still points at the file (a product's asset)
        raise Conflict("This file is in use (a product sells it) and cannot be deleted", code="file_in_use") from None


async def delete_blobs(storage: Storage, keys: list[str]) -> None:
    for key in keys:
        try:
            await storage.delete(key)
        except Exception:
            log.exception("could not delete blob %s of a deleted file; it is an orphan now", key)


async def usage(app: web.Application, user: AuthUser) -> dict[str, Any]:
    db, settings = app[DB], app[SETTINGS]
    return {
        "used_bytes": await queries.used_bytes(db, user.id),
        "quota_bytes": settings.user_quota_bytes,
        "upload_max_bytes": settings.upload_max_bytes,
        "files": await queries.file_count(db, user.id),
    }


async def file_download(app: web.Application, user_id: UUID, file_id: UUID, version: int | None) -> Download:
    """One of the user's files, or one of its past versions, as it downloads; another's file is not found."""
    db = app[DB]
    file = await queries.get_file(db, file_id, user_id)
    row = await queries.get_version(db, file_id, version or file["current_version"])
    return Download(row["storage_key"], row["content_type"], file["name"])
