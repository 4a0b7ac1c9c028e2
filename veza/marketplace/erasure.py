"""A deleted account in the marketplace: its reviews go (and the ratings they made); the invoices that name
it, as buyer or seller, are rendered again to show a deleted user. Its orders, sales, licenses and sold
products stay: the other party and the law still need them, and they name only a deleted user now."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from aiohttp import web

from veza.db import transaction
from veza.keys import DB
from veza.marketplace import invoices, review_queries
from veza.marketplace.cache import catalog_changed


async def erase_marketplace(app: web.Application, user_id: UUID, deleted_at: datetime) -> None:
    async with transaction(app[DB]) as tx:
        for product_id in await review_queries.delete_buyer_reviews(tx, user_id):
            await review_queries.recount_rating(tx, product_id)
        tx.after_commit(catalog_changed, app)
    await invoices.rerender_naming(app, user_id, deleted_at)
