"""/admin/transfers: every seller transfer, filtered and paged; POST .../{id}/retry sends a failed one now."""

from __future__ import annotations

from aiohttp import web

from veza.http import endpoint, ok, require_user, uuid_param
from veza.idempotency import HEADER, parse_key
from veza.keys import DB
from veza.payments import admin_transfers
from veza.payments import transfer_queries as queries
from veza.payments.admin_models import AdminTransferList, AdminTransfersQuery, RetriedTransfer

routes = web.RouteTableDef()


@routes.get("/admin/transfers")
@endpoint(
    "Every seller transfer, newest first, by status, seller and creation range (admins)",
    query=AdminTransfersQuery,
    response=AdminTransferList,
    auth="admin",
    tags=["admin"],
)
async def list_transfers(request: web.Request, query: AdminTransfersQuery) -> web.Response:
    rows, total = await queries.transfers_page(
        request.app[DB],
        status=query.status,
        seller_id=query.seller_id,
        created_from=query.created_from,
        created_before=query.created_before,
        limit=query.limit,
        offset=query.offset,
    )
    return ok(AdminTransferList(transfers=rows, total=total))


@routes.post("/admin/transfers/{id}/retry")
@endpoint(
    "Send a failed transfer now, whatever its schedule (admins; send an Idempotency-Key header to retry safely)",
    response=RetriedTransfer,
    auth="admin",
    tags=["admin"],
    errors=[404, 409, 502, 503],
)
async def retry_transfer(request: web.Request) -> web.Response:
    transfer_id = uuid_param(request)
    key = parse_key(request.headers.get(HEADER))
    answer = await admin_transfers.retry(request.app, require_user(request), transfer_id, key)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return ok(answer.data, status=answer.status, headers=headers)
