"""/users/me: the caller's own account."""

from __future__ import annotations

from aiohttp import web

from veza.http import endpoint, ok, require_user
from veza.keys import DB
from veza.users import queries, service
from veza.users.models import MeOut, UpdateMeIn

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
