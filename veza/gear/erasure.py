"""A deleted account's gear: documents' blobs first, then their rows, then the items with their repairs."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from veza.db import transaction
from veza.gear import document_queries, queries
from veza.keys import DB, STORAGE

PAGE = 200


async def erase_gear(app: web.Application, owner_id: UUID) -> None:
    db, storage = app[DB], app[STORAGE]
    while documents := await document_queries.owner_documents(db, owner_id, PAGE):
        for document in documents:
            await storage.delete(document["storage_key"])
        await document_queries.delete_documents(db, [document["id"] for document in documents])
    async with transaction(db) as tx:
        await queries.delete_owner_items(tx, owner_id)
