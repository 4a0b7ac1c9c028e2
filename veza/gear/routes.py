"""/inventory/gear: the caller's gear items with their warranty badge, and each item's repair log."""

from __future__ import annotations

from aiohttp import web

from veza.gear import queries, service
from veza.gear.models import (
    DeletedOut,
    GearIn,
    GearList,
    GearOut,
    GearQuery,
    GearUpdate,
    RepairIn,
    RepairList,
    RepairOut,
)
from veza.gear.warranty import utc_today
from veza.http import Page, endpoint, ok, require_user, uuid_param
from veza.keys import DB

routes = web.RouteTableDef()

TAGS = ["gear"]


@routes.post("/inventory/gear")
@endpoint(
    "Add a gear item",
    body=GearIn,
    response=GearOut,
    status=201,
    auth="user",
    tags=TAGS,
    errors=[422],
    links={"/inventory/gear/{id}": "/data/id"},
)
async def create_gear_item(request: web.Request, body: GearIn) -> web.Response:
    row = await service.create_item(request.app, require_user(request).id, body)
    return ok(GearOut.model_validate(row), status=201)


@routes.get("/inventory/gear")
@endpoint("The caller's gear items, newest first", query=GearQuery, response=GearList, auth="user", tags=TAGS)
async def list_gear_items(request: web.Request, query: GearQuery) -> web.Response:
    rows, total = await queries.page_items(
        request.app[DB],
        require_user(request).id,
        today=utc_today(),
        search=query.search,
        category=query.category,
        warranty=query.warranty,
        limit=query.limit,
        offset=query.offset,
    )
    return ok(GearList(items=[service.present(row) for row in rows], total=total))


@routes.get("/inventory/gear/{id}")
@endpoint("One of the caller's gear items", response=GearOut, auth="owner", tags=TAGS)
async def get_gear_item(request: web.Request) -> web.Response:
    row = await service.get_item(request.app, require_user(request).id, uuid_param(request))
    return ok(GearOut.model_validate(row))


@routes.patch("/inventory/gear/{id}")
@endpoint("Change a gear item", body=GearUpdate, response=GearOut, auth="owner", tags=TAGS, errors=[422])
async def update_gear_item(request: web.Request, body: GearUpdate) -> web.Response:
    row = await service.update_item(request.app, require_user(request).id, uuid_param(request), body)
    return ok(GearOut.model_validate(row))


@routes.delete("/inventory/gear/{id}")
@endpoint("Delete a gear item with its repairs and documents", response=DeletedOut, auth="owner", tags=TAGS)
async def delete_gear_item(request: web.Request) -> web.Response:
    await service.delete_item(request.app, require_user(request).id, uuid_param(request))
    return ok({"deleted": True})


@routes.post("/inventory/gear/{id}/repairs")
@endpoint(
    "Log a repair of a gear item",
    body=RepairIn,
    response=RepairOut,
    status=201,
    auth="owner",
    tags=TAGS,
    links={"/inventory/gear/{id}/repairs/{repairId}": "/data/id"},
)
async def add_gear_repair(request: web.Request, body: RepairIn) -> web.Response:
    row = await service.add_repair(request.app, require_user(request).id, uuid_param(request), body)
    return ok(RepairOut.model_validate(row), status=201)


@routes.get("/inventory/gear/{id}/repairs")
@endpoint("A gear item's repairs, newest first", query=Page, response=RepairList, auth="owner", tags=TAGS)
async def list_gear_repairs(request: web.Request, query: Page) -> web.Response:
    rows, total = await service.list_repairs(
        request.app, require_user(request).id, uuid_param(request), query.limit, query.offset
    )
    return ok(RepairList(repairs=rows, total=total))


@routes.delete("/inventory/gear/{id}/repairs/{repairId}")
@endpoint("Delete a repair from a gear item's log", response=DeletedOut, auth="owner", tags=TAGS)
async def delete_gear_repair(request: web.Request) -> web.Response:
    user = require_user(request)
    await service.delete_repair(request.app, user.id, uuid_param(request), uuid_param(request, "repairId"))
    return ok({"deleted": True})
