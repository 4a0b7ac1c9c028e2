"""/marketplace/orders/{id}/invoice: the buyer's invoice PDF, or a link to it."""

from __future__ import annotations

from aiohttp import web

from veza.http import endpoint, require_user, uuid_param
from veza.marketplace.invoices import PDF, buyer_invoice
from veza.storage import Download
from veza.storage.models import DownloadLinkOut
from veza.storage.serve import link_response, serve_download

routes = web.RouteTableDef()


@routes.get("/marketplace/orders/{id}/invoice")
@endpoint(
    "Download the invoice PDF of one of the caller's paid orders "
    "(byte ranges on local storage; a 302 to a presigned URL on S3; 409 while the order is not paid)",
    auth="owner",
    tags=["marketplace"],
    content_type=PDF,
    errors=[409, 416],
)
async def download_invoice(request: web.Request) -> web.StreamResponse:
    return await serve_download(request, await invoice_download(request))


@routes.get("/marketplace/orders/{id}/invoice/link")
@endpoint(
    "A short-lived link (no token needed) to the invoice PDF of one of the caller's paid orders: a presigned "
    "URL on S3, a signed link to this API on local storage (409 while the order is not paid)",
    response=DownloadLinkOut,
    auth="owner",
    tags=["marketplace"],
    errors=[409],
)
async def invoice_link(request: web.Request) -> web.Response:
    return await link_response(request, await invoice_download(request))


async def invoice_download(request: web.Request) -> Download:
    return await buyer_invoice(request.app, require_user(request).id, uuid_param(request))
