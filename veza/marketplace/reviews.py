"""Buyers review what they bought; each review moves its product's rating at once."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from veza.auth.tokens import AuthUser
from veza.db import Row, transaction
from veza.errors import Conflict, Forbidden
from veza.keys import DB
from veza.marketplace import review_queries as queries
from veza.marketplace.cache import catalog_changed
from veza.marketplace.review_models import ReviewIn


async def create_review(app: web.Application, buyer: AuthUser, product_id: UUID, body: ReviewIn) -> Row:
    """One review per buyer and product, by a holder of an active license from a completed order.

    An archived product can still be reviewed by its buyers: they keep what they paid for.
    """
    async with transaction(app[DB]) as tx:
        product = await queries.lock_product(tx, product_id)
        if product["seller_id"] == buyer.id:
            raise Forbidden("You cannot review your own product", code="own_product")
        order_id = await queries.licensed_order(tx, product_id, buyer.id)
        if order_id is None:
            raise Forbidden("Only buyers of this product can review it", code="not_a_buyer")
        review = await queries.insert_review(
            tx,
            {
                "product_id": product_id,
                "buyer_id": buyer.id,
                "order_id": order_id,
                "rating": body.rating,
                "comment": body.comment,
            },
        )
        if review is None:
            raise Conflict("You have already reviewed this product", code="already_reviewed")
        await queries.recount_rating(tx, product_id)
        tx.after_commit(catalog_changed, app)
    return review
