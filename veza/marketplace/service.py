"""Sellers list products; the catalog shows the active ones."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp import web

from veza.auth.tokens import AuthUser
from veza.cloud import queries as cloud_queries
from veza.db import transaction
from veza.errors import Invalid
from veza.keys import DB
from veza.marketplace import queries
from veza.marketplace.cache import catalog_changed
from veza.marketplace.models import ProductIn, ProductUpdate
from veza.tags.normalize import normalize_tags
from veza.users import queries as user_queries


async def check_asset(tx, file_id: UUID, seller: AuthUser) -> None:
    if not await cloud_queries.owns_file(tx, file_id, seller.id):
        raise Invalid(
            "The asset must be one of your cloud files",
            details=[{"field": "asset_file_id", "message": "no such file of yours"}],
        )


async def create_product(app: web.Application, seller: AuthUser, body: ProductIn) -> dict[str, Any]:
    fields = {**body.model_dump(), "tags": normalize_tags(body.tags)}
    async with transaction(app[DB]) as tx:
        await check_asset(tx, body.asset_file_id, seller)
        product_id = await queries.insert_product(tx, seller.id, fields)
        await user_queries.become_seller(tx, seller.id)
        tx.after_commit(catalog_changed, app)
        return await queries.seller_product(tx, product_id, seller.id)


async def update_product(app: web.Application, seller: AuthUser, product_id: UUID, body: ProductUpdate) -> dict:
    fields = body.model_dump(exclude_unset=True, exclude_none=True)
    if "tags" in fields:
        fields["tags"] = normalize_tags(fields["tags"])
    async with transaction(app[DB]) as tx:
        await queries.seller_product(tx, product_id, seller.id)  # 404 before anything else for others' products
        if "asset_file_id" in fields:
            await check_asset(tx, fields["asset_file_id"], seller)
        if fields:
            await queries.update_product(tx, product_id, seller.id, fields)
            tx.after_commit(catalog_changed, app)
        return await queries.seller_product(tx, product_id, seller.id)


async def archive_product(app: web.Application, seller: AuthUser, product_id: UUID) -> None:
    await queries.archive_product(app[DB], product_id, seller.id)
    await catalog_changed(app)
