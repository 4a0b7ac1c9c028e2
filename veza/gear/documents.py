"""A gear item's documents (invoices, manuals, photos...): blobs under gear/, counted in the owner's quota.

The upload takes the cloud's road: the file streams to storage through the
cloud's ``receive`` (upload limit, quota reservation), then its row and the
quota's used bytes are written in one transaction. The blob is complete before
its row; a row that cannot be written takes its blob with it; a deleted
document's blob goes after the COMMIT (a crash between leaves an orphan blob for
the storage reconciliation, never a row without its blob).
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID, uuid4

from aiohttp import web

from veza.auth.tokens import AuthUser
from veza.cloud import queries as cloud_queries
from veza.cloud import uploads
from veza.cloud.multipart import MultipartSource, read_form
from veza.cloud.names import sanitize_name
from veza.cloud.quota import MiB
from veza.cloud.service import receive
from veza.cloud.uploads import Received, Store
from veza.db import Row, Transaction, transaction
from veza.gear import document_queries as queries
from veza.gear.document_models import DocumentFields
from veza.http import validate
from veza.keys import DB, STORAGE
from veza.storage import Download, Storage
from veza.tasks import run_to_end

log = logging.getLogger(__name__)

DOCUMENT_MAX_BYTES = 100 * MiB  # a manual or a scanned invoice; UPLOAD_MAX_BYTES still applies when smaller


def storage_key(owner_id: UUID, item_id: UUID, document_id: UUID) -> str:
    return f"gear/{owner_id}/{item_id}/{document_id}"


async def document_download(app: web.Application, user_id: UUID, item_id: UUID, document_id: UUID) -> Download:
    """One of the user's documents as it downloads; another's is not found."""
    row = await queries.get_document(app[DB], item_id, document_id, user_id)
    return Download(row["storage_key"], row["content_type"], row["filename"])


class DocumentSource(MultipartSource):
    """A document upload's multipart body: `file` and its `type`."""

    def __init__(self, request: web.Request) -> None:
        super().__init__(request, frozenset({"type"}))

    async def read(self, store: Store) -> tuple[Received, dict[str, Any]]:
        received, fields = await read_form(self.request, store, self.text_fields)
        types = fields.get("type", [])
        return received, {"type": types[0] if len(types) == 1 else (types or None)}


async def upload_document(app: web.Application, user: AuthUser, item_id: UUID, source: DocumentSource) -> Row:
    """POST /inventory/gear/{id}/documents: store the file, then record it; 404 before a byte is read."""
    db, storage = app[DB], app[STORAGE]
    await queries.get_item(db, item_id, user.id)
    document_id = uuid4()
    key = storage_key(user.id, item_id, document_id)
    received, fields, reservation = await receive(app, user, key, source, limit=DOCUMENT_MAX_BYTES)
    try:
        form: DocumentFields = validate(DocumentFields, fields)  # type: ignore[assignment]
    except BaseException:
        await run_to_end(app, uploads.discard_blob(storage, key))
        await run_to_end(app, reservation.release())
        raise

    async def record() -> Row:
        try:
            async with transaction(db) as tx:
                await queries.get_item(tx, item_id, user.id, lock=True)  # deleted meanwhile: 404, the blob goes
                await reservation.commit(tx, received.size)
                return await queries.insert_document(
                    tx,
                    {
                        "id": document_id,
                        "item_id": item_id,
                        "owner_id": user.id,
                        "type": form.type,
                        "filename": sanitize_name(received.filename),
                        "content_type": received.content_type,
                        "size_bytes": received.size,
                        "storage_key": key,
                    },
                )
        except BaseException:
            try:
                recorded = await queries.document_exists(db, document_id)
            except Exception:
                recorded = True  # unknown: an orphan blob is better than a row without its blob
            if not recorded:
                await uploads.discard_blob(storage, key)
            raise
        finally:
            await reservation.release()

    return await run_to_end(app, record())


async def delete_document(app: web.Application, user: AuthUser, item_id: UUID, document_id: UUID) -> None:
    """DELETE .../documents/{docId}: the row goes and its bytes leave the quota; the blob goes after commit."""
    async with transaction(app[DB]) as tx:
        row = await queries.delete_document(tx, item_id, document_id, user.id)
        await cloud_queries.lock_usage(tx, user.id)
        await cloud_queries.add_used(tx, user.id, -row["size_bytes"])
        tx.after_commit(delete_blob, app[STORAGE], row["storage_key"])


async def delete_item_documents(app: web.Application, tx: Transaction, owner_id: UUID, item_id: UUID) -> int:
    """In the transaction deleting a gear item: its documents go, their bytes leave the quota, their
    blobs go after the COMMIT. How many documents there were."""
    rows = await queries.delete_item_documents(tx, item_id, owner_id)
    if rows:
        await cloud_queries.lock_usage(tx, owner_id)
        await cloud_queries.add_used(tx, owner_id, -sum(row["size_bytes"] for row in rows))
        for row in rows:
            tx.after_commit(delete_blob, app[STORAGE], row["storage_key"])
    return len(rows)


async def delete_blob(storage: Storage, key: str) -> None:
    try:
        await storage.delete(key)
    except Exception:
        log.exception("could not delete blob %s of a deleted document; it is an orphan now", key)
