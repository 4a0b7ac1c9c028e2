"""/users/me: the caller's own account."""

from __future__ import annotations

from aiohttp import web

from veza.http import Page, endpoint, ok, require_user, uuid_param
from veza.keys import DB
from veza.users import deletion, export, export_queries, queries, service
from veza.users.models import AccountDeleted, DeleteAccountIn, ExportCreated, ExportList, ExportOut, MeOut, UpdateMeIn

routes = web.RouteTableDef()


@routes.get("/users/me")
@endpoint("The caller's account", response=MeOut, auth="user", tags=["users"])
async def get_me(request: web.Request) -> web.Response:
    return ok(MeOut.model_validate(await queries.get_user(request.app[DB], require_user(request).id)))


@routes.patch("/users/me")
@endpoint(
    "Change username, email or password (email and password need current_password and end other sessions)",
    body=UpdateMeIn,
    response=MeOut,
    auth="user",
    tags=["users"],
    errors=[409],
)
async def update_me(request: web.Request, body: UpdateMeIn) -> web.Response:
    updated = await service.update_me(request.app, require_user(request), body)
    return ok(MeOut.model_validate(updated))


@routes.delete("/users/me")
@endpoint(
    "Delete your account, given your password: it ends every session at once, and what it held is erased "
    "in the background. Orders, invoices and payouts that others still need stay, showing a deleted user.",
    body=DeleteAccountIn,
    response=AccountDeleted,
    status=202,
    auth="user",
    tags=["users"],
    errors=[409, 429],
)
async def delete_me(request: web.Request, body: DeleteAccountIn) -> web.Response:
    await deletion.delete_account(request.app, require_user(request).id, body.password)
    return ok(AccountDeleted(status="deleted", erasure="queued"), status=202)


@routes.post("/users/me/export")
@endpoint(
    "Ask for an archive of all your data (GDPR), built in the background; the export in progress if there is one",
    response=ExportCreated,
    status=202,
    auth="user",
    tags=["users"],
    errors=[429],
    links={"/users/me/exports/{id}": "/data/export_id"},
)
async def request_export(request: web.Request) -> web.Response:
    row = await export.request_export(request.app, require_user(request).id)
    return ok(ExportCreated(export_id=row["id"], status=row["status"]), status=202)


@routes.get("/users/me/exports")
@endpoint("The caller's data exports, newest first", query=Page, response=ExportList, auth="user", tags=["users"])
async def list_exports(request: web.Request, query: Page) -> web.Response:
    rows, total = await export_queries.page(request.app[DB], require_user(request).id, query.limit, query.offset)
    return ok(ExportList(exports=[await export.describe(request.app, row) for row in rows], total=total))


@routes.get("/users/me/exports/{id}")
@endpoint(
    "One of the caller's data exports, with a fresh download link while ready",
    response=ExportOut,
    auth="owner",
    tags=["users"],
)
async def get_export(request: web.Request) -> web.Response:
    row = await export_queries.get_own(request.app[DB], require_user(request).id, uuid_param(request))
    return ok(ExportOut.model_validate(await export.describe(request.app, row)))
