"""/marketplace/orders/{id}/invoice: the buyer's invoice PDF."""

from __future__ import annotations

from aiohttp import web

from veza.http import endpoint, require_user, uuid_param
from veza.marketplace.invoice_pdf import invoice_filename
from veza.marketplace.invoices import PDF, buyer_invoice
from veza.storage.serve import serve_blob

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
    invoice = await buyer_invoice(request.app, require_user(request).id, uuid_param(request))
    return await serve_blob(request, invoice["storage_key"], content_type=PDF, filename=invoice_filename(invoice))
