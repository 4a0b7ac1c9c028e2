"""A deleted account's cloud: its files go, blobs first, but for the content that buyers hold a license for.

A file that some order holds (a product sells it) keeps its current version, which buyers download for
good; its older versions and share links go. Every other file goes with all its versions and with the
products that sold it to nobody. Each file is one step, safe to run again after a crash: its blobs are
deleted before its rows, so a step cut short leaves rows that the next run finds and finishes.
"""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from veza.cloud import queries
from veza.db import transaction
from veza.keys import DB, STORAGE
from veza.marketplace.assets import release_unless_sold

PAGE = 100
FIRST_ID = UUID(int=0)


async def erase_files(app: web.Application, user_id: UUID) -> None:
    db = app[DB]
    after = FIRST_ID
    while file_ids := await queries.user_file_ids(db, user_id, after, PAGE):
        for file_id in file_ids:
            await _erase_file(app, user_id, file_id)
        after = file_ids[-1]
    async with transaction(db) as tx:
        await queries.forget_user(tx, user_id)


async def _erase_file(app: web.Application, user_id: UUID, file_id: UUID) -> None:
    db, storage = app[DB], app[STORAGE]
    # Settled first and for good: the account's products are off sale, so no order can come to hold the
    # file once its unsold products are gone.
    async with transaction(db) as tx:
        sold = bool(await release_unless_sold(app, tx, file_id))
    versions = await queries.versions(db, file_id)
    if sold:
        kept = await queries.current_version(db, file_id)
        doomed = {v["storage_key"] for v in versions} - {kept["storage_key"]}  # a restore may share a blob
    else:
        doomed = {v["storage_key"] for v in versions}
    for key in sorted(doomed):
        await storage.delete(key)
    async with transaction(db) as tx:
        if sold:
            await queries.delete_versions_but_current(tx, file_id)
        else:
            await queries.delete_file(tx, file_id, user_id)
