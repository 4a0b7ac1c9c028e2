"""/marketplace/products (the public catalog), /marketplace/sellers (sellers' public pages) and
/sell/products (a seller's own)."""

from __future__ import annotations

from aiohttp import web

from veza.http import PublicPage, cacheable_response, endpoint, ok, require_user, uuid_param
from veza.keys import DB
from veza.marketplace import cache, queries, service
from veza.marketplace.models import (
    CatalogQuery,
    ProductIn,
    ProductList,
    ProductOut,
    ProductUpdate,
    SellerPage,
    SellerProductList,
    SellerProductOut,
    SellerProductsQuery,
)
from veza.marketplace.search import prefix_query

routes = web.RouteTableDef()


@routes.get("/marketplace/products")
@endpoint(
    "The catalog: search (words and word prefixes over title, tags, description), sort, page",
    query=CatalogQuery,
    response=ProductList,
    tags=["marketplace"],
    auth="public",
)
async def catalog(request: web.Request, query: CatalogQuery) -> web.Response:
    page = await cache.catalog_page(
        request.app, tsquery=prefix_query(query.search), sort=query.sort, limit=query.limit, offset=query.offset
    )
    return cacheable_response(request, page)


@routes.get("/marketplace/products/{id}")
@endpoint(
    "One product of the catalog, with its seller and rating", response=ProductOut, tags=["marketplace"], auth="public"
)
async def product(request: web.Request) -> web.Response:
    page = await cache.product_page(request.app, uuid_param(request))
    return cacheable_response(request, page)


@routes.get("/marketplace/sellers/{id}")
@endpoint(
    "A seller's public page: their profile and their products on sale, newest first",
    query=PublicPage,
    response=SellerPage,
    tags=["marketplace"],
    auth="public",
)
async def seller(request: web.Request, query: PublicPage) -> web.Response:
    page = await cache.seller_page(request.app, uuid_param(request), limit=query.limit, offset=query.offset)
    return cacheable_response(request, page)


@routes.post("/marketplace/products")
@endpoint(
    "List a product for sale (the first one makes the caller a seller)",
    body=ProductIn,
    response=SellerProductOut,
    status=201,
    auth="user",
    tags=["marketplace"],
    links={"/marketplace/products/{id}": "/data/id"},
)
async def create_product(request: web.Request, body: ProductIn) -> web.Response:
    row = await service.create_product(request.app, require_user(request), body)
    return ok(SellerProductOut.model_validate(row), status=201)


@routes.patch("/marketplace/products/{id}")
@endpoint(
    "Change one of the caller's products",
    body=ProductUpdate,
    response=SellerProductOut,
    auth="owner",
    tags=["marketplace"],
)
async def update_product(request: web.Request, body: ProductUpdate) -> web.Response:
    row = await service.update_product(request.app, require_user(request), uuid_param(request), body)
    return ok(SellerProductOut.model_validate(row))


@routes.delete("/marketplace/products/{id}")
@endpoint(
    "Archive one of the caller's products: it leaves the catalog, past orders keep it",
    auth="owner",
    tags=["marketplace"],
)
async def archive_product(request: web.Request) -> web.Response:
    await service.archive_product(request.app, require_user(request), uuid_param(request))
    return ok({"archived": True})


@routes.get("/sell/products")
@endpoint(
    "The caller's products, archived ones included",
    query=SellerProductsQuery,
    response=SellerProductList,
    auth="user",
    tags=["marketplace"],
)
async def my_products(request: web.Request, query: SellerProductsQuery) -> web.Response:
    rows, total = await queries.seller_products(
        request.app[DB], require_user(request).id, status=query.status, limit=query.limit, offset=query.offset
    )
    return ok(SellerProductList(products=rows, total=total))
