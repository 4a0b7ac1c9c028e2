"""/marketplace/products/{id}/download: the file a product sells, for its buyers and its seller."""

from __future__ import annotations

from aiohttp import web

from veza.http import endpoint, require_user, uuid_param
from veza.marketplace import assets
from veza.storage.serve import serve_blob

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
    version, filename = await assets.asset_download(request.app, require_user(request), uuid_param(request))
    return await serve_blob(request, version["storage_key"], content_type=version["content_type"], filename=filename)
