"""/marketplace/products/{id}/download: the file a product sells (or a link to it), for its buyers and its seller."""

from __future__ import annotations

from aiohttp import web

from veza.http import endpoint, require_user, uuid_param
from veza.marketplace import assets
from veza.storage import Download
from veza.storage.models import DownloadLinkOut
from veza.storage.serve import link_response, serve_download

routes = web.RouteTableDef()


@routes.get("/marketplace/products/{id}/download")
@endpoint(
    "Download the file a product sells, named after the product: for holders of an active license and the "
    "seller, archived products included (byte ranges on local storage; a 302 to a presigned URL on S3)",
    auth="party",
    tags=["marketplace"],
    content_type="*/*",  # the type the file was stored with
    errors=[416, 429],
)
async def download_product(request: web.Request) -> web.StreamResponse:
    return await serve_download(request, await product_download(request))


@routes.get("/marketplace/products/{id}/download/link")
@endpoint(
    "A short-lived link (no token needed) to the file a product sells, for the same callers as its download "
    "and counted in the same rate limit: a presigned URL on S3, a signed link to this API on local storage",
    response=DownloadLinkOut,
    auth="party",
    tags=["marketplace"],
    errors=[429],
)
async def product_download_link(request: web.Request) -> web.Response:
    return await link_response(request, await product_download(request))


async def product_download(request: web.Request) -> Download:
    return await assets.asset_download(request.app, require_user(request), uuid_param(request))
