"""/notifications: what the user missed while away, and read markers."""

from __future__ import annotations

from aiohttp import web

from veza.http import endpoint, ok, require_user, uuid_param
from veza.keys import DB
from veza.notifications import queries
from veza.notifications.models import NotificationList, NotificationOut, NotificationsQuery, ReadAll, UnreadCount

routes = web.RouteTableDef()


@routes.get("/notifications")
@endpoint(
    "The caller's notifications, newest first",
    query=NotificationsQuery,
    response=NotificationList,
    auth="user",
    tags=["notifications"],
)
async def list_notifications(request: web.Request, query: NotificationsQuery) -> web.Response:
    user = require_user(request)
    db = request.app[DB]
    rows, total = await queries.page(db, user.id, unread_only=query.unread, limit=query.limit, offset=query.offset)
    unread = await queries.unread_count(db, user.id)
    return ok(NotificationList(notifications=rows, total=total, unread_count=unread))


@routes.get("/notifications/unread-count")
@endpoint("How many notifications are unread", response=UnreadCount, auth="user", tags=["notifications"])
async def unread_count(request: web.Request) -> web.Response:
    return ok({"count": await queries.unread_count(request.app[DB], require_user(request).id)})


@routes.post("/notifications/{id}/read")
@endpoint("Mark one notification read", response=NotificationOut, auth="owner", tags=["notifications"])
async def mark_read(request: web.Request) -> web.Response:
    row = await queries.mark_read(request.app[DB], require_user(request).id, uuid_param(request))
    return ok(NotificationOut.model_validate(row))


@routes.post("/notifications/read-all")
@endpoint("Mark every notification read", response=ReadAll, auth="user", tags=["notifications"])
async def read_all(request: web.Request) -> web.Response:
    return ok({"updated": await queries.mark_all_read(request.app[DB], require_user(request).id)})
