"""/marketplace/products/{id}/reviews: read by anyone, written by the product's buyers."""

from __future__ import annotations

from aiohttp import web

from veza.http import PublicPage, cacheable_response, endpoint, ok, require_user, uuid_param
from veza.marketplace import cache, reviews
from veza.marketplace.review_models import ReviewIn, ReviewList, ReviewOut

routes = web.RouteTableDef()


@routes.get("/marketplace/products/{id}/reviews")
@endpoint(
    "A product's reviews, newest first (an archived product's too)",
    query=PublicPage,
    response=ReviewList,
    tags=["marketplace"],
    auth="public",
)
async def list_reviews(request: web.Request, query: PublicPage) -> web.Response:
    page = await cache.reviews_page(request.app, uuid_param(request), limit=query.limit, offset=query.offset)
    return cacheable_response(request, page)


@routes.post("/marketplace/products/{id}/reviews")
@endpoint(
    "Review a product you bought (an active license from a completed order); one review per buyer",
    body=ReviewIn,
    response=ReviewOut,
    status=201,
    auth="buyer",
    tags=["marketplace"],
    errors=[403, 409],
)
async def create_review(request: web.Request, body: ReviewIn) -> web.Response:
    row = await reviews.create_review(request.app, require_user(request), uuid_param(request), body)
    return ok(ReviewOut.model_validate(row), status=201)
