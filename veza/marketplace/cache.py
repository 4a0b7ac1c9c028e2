"""Rendered public marketplace pages, kept a few seconds: they are read far more often than written.

What is cached (the catalog, a product, a product's reviews, a seller's page; under which keys, how
long browsers may keep them) and when it is cleared (``catalog_changed``, after every write that
changes any of them) live here together. None of these answers depends on who asks, so a signed-in
caller gets the same bytes as everyone else.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel

from veza.http import CachedPage, cached_page
from veza.keys import CATALOG_CACHE, DB
from veza.marketplace import queries, review_queries
from veza.marketplace.models import ProductList, ProductOut, SellerPage
from veza.marketplace.review_models import ReviewList
from veza.tasks import Tasks

CATALOG_MAX_AGE = 30  # seconds browsers and CDNs may reuse a catalog page


def page_of(model: BaseModel) -> CachedPage:
    return cached_page(model.model_dump(mode="json"), max_age=CATALOG_MAX_AGE)


class PageCache:
    """A bounded, per-process cache with one refresher per key.

    While one request renders an expired page, the others get the stale copy
    (or, for a page never rendered, wait for that one render): an expiry never
    sends every connection to the database at once. Writes in this process
    clear it; other processes see them within `ttl` seconds.
    """

    def __init__(self, ttl: float, max_entries: int = 512, tasks: Tasks | None = None) -> None:
        self.ttl = ttl
        self.tasks = tasks if tasks is not None else Tasks()
        self.max_entries = max_entries
        self._pages: OrderedDict[Hashable, tuple[float, CachedPage]] = OrderedDict()
        self._rendering: dict[Hashable, asyncio.Task[CachedPage]] = {}

    async def get(self, key: Hashable, render: Callable[[], Awaitable[CachedPage]]) -> CachedPage:
        if self.ttl <= 0:
            return await render()
        cached = self._pages.get(key)
        if cached is not None and cached[0] > time.monotonic():
            self._pages.move_to_end(key)
            return cached[1]
        task = self._rendering.get(key)
        if task is None:
            # Its failure goes to the requests awaiting it (a 404 is no server error); stale readers ignore it.
            task = self._rendering[key] = self.tasks.spawn(self._render(key, render), report=False)
        if cached is not None:
            return cached[1]
        return await asyncio.shield(task)

    async def _render(self, key: Hashable, render: Callable[[], Awaitable[CachedPage]]) -> CachedPage:
        try:
            page = await render()
            self._pages[key] = (time.monotonic() + self.ttl, page)
            self._pages.move_to_end(key)
            while len(self._pages) > self.max_entries:
                self._pages.popitem(last=False)
            return page
        finally:
            del self._rendering[key]

    def clear(self) -> None:
        self._pages.clear()


async def catalog_page(app: web.Application, *, tsquery: str | None, sort: str, limit: int, offset: int) -> CachedPage:
    """A page of the public catalog, rendered at most once per process every few seconds."""

    async def render() -> CachedPage:
        rows, total = await queries.catalog(app[DB], tsquery=tsquery, sort=sort, limit=limit, offset=offset)
        return page_of(ProductList(products=rows, total=total))

    return await app[CATALOG_CACHE].get(("catalog", tsquery, sort, limit, offset), render)


async def product_page(app: web.Application, product_id: UUID) -> CachedPage:
    async def render() -> CachedPage:
        row = await queries.active_product(app[DB], product_id)
        return page_of(ProductOut.model_validate(row))

    return await app[CATALOG_CACHE].get(("product", product_id), render)


async def reviews_page(app: web.Application, product_id: UUID, *, limit: int, offset: int) -> CachedPage:
    """A page of a product's reviews (an archived product's too)."""

    async def render() -> CachedPage:
        db = app[DB]
        await review_queries.product_exists(db, product_id)
        rows, total = await review_queries.page_reviews(db, product_id, limit=limit, offset=offset)
        return page_of(ReviewList(reviews=rows, total=total))

    return await app[CATALOG_CACHE].get(("reviews", product_id, limit, offset), render)


async def seller_page(app: web.Application, seller_id: UUID, *, limit: int, offset: int) -> CachedPage:
    """A seller's profile and a page of their products on sale."""

    async def render() -> CachedPage:
        db = app[DB]
        seller = await queries.public_seller(db, seller_id)
        rows, total = await queries.seller_products(db, seller_id, status="active", limit=limit, offset=offset)
        return page_of(SellerPage(seller=seller, products=rows, total=total))

    return await app[CATALOG_CACHE].get(("seller", seller_id, limit, offset), render)


async def catalog_changed(app: web.Application) -> None:
    """Every cached page goes: a product, a review or an account shows on several of them.

    This process shows the change at once; others within their cache's few seconds (a worker has none)."""
    if (cache := app.get(CATALOG_CACHE)) is not None:
        cache.clear()
