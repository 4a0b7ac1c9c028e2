"""/live: streams, stream keys, and the nginx-rtmp callbacks."""

from __future__ import annotations

import hmac
from typing import NamedTuple

from aiohttp import web

from veza.errors import Forbidden
from veza.http import Page, endpoint, ok, require_user, uuid_param
from veza.keys import DB, SETTINGS
from veza.live import queries, service
from veza.live.models import (
    LiveHealth,
    OwnStreamList,
    OwnStreamOut,
    PublishRedirect,
    RtmpForm,
    RtmpQuery,
    StreamIn,
    StreamKeyOut,
    StreamList,
    StreamOut,
    StreamsQuery,
    StreamUpdate,
)

routes = web.RouteTableDef()
# Only something shaped like a UUID routes to one stream, so /live/streams/me is never taken for an id
# (PUT /live/streams/me is a 405, not an attempt to update a stream called "me").
STREAM = "/live/streams/{id:[0-9a-fA-F-]+}"


@routes.get("/live/streams")
@endpoint("Streams, live ones first (public)", query=StreamsQuery, response=StreamList, tags=["live"], auth="public")
async def list_streams(request: web.Request, query: StreamsQuery) -> web.Response:
    rows, total = await queries.page(request.app[DB], is_live=query.is_live, limit=query.limit, offset=query.offset)
    return ok(StreamList(streams=rows, total=total))


@routes.get("/live/streams/me")
@endpoint("The caller's streams, with the stream key", query=Page, response=OwnStreamList, auth="user", tags=["live"])
async def my_streams(request: web.Request, query: Page) -> web.Response:
    user = require_user(request)
    db = request.app[DB]
    rows, total = await queries.user_streams(db, user.id, limit=query.limit, offset=query.offset)
    key = await queries.get_key(db, user.id) or ""
    return ok({"streams": [OwnStreamOut(**row, stream_key=key) for row in rows], "total": total})


@routes.get("/live/streams/me/key")
@endpoint(
    "The caller's stream key and RTMP URL (makes a draft stream if none)",
    response=StreamKeyOut,
    auth="user",
    tags=["live"],
)
async def my_key(request: web.Request) -> web.Response:
    return ok(await service.my_key(request.app, require_user(request)), headers={"Cache-Control": "no-store"})


@routes.post("/live/streams/me/key/regenerate")
@endpoint("A new stream key; the old one stops working at once", response=StreamKeyOut, auth="user", tags=["live"])
async def regenerate_key(request: web.Request) -> web.Response:
    return ok(await service.regenerate_key(request.app, require_user(request)), headers={"Cache-Control": "no-store"})


@routes.get(STREAM)
@endpoint("One stream (public)", response=StreamOut, tags=["live"], auth="public")
async def get_stream(request: web.Request) -> web.Response:
    return ok(StreamOut.model_validate(await queries.get_stream(request.app[DB], uuid_param(request))))


@routes.post("/live/streams")
@endpoint(
    "Create a stream",
    body=StreamIn,
    response=OwnStreamOut,
    status=201,
    auth="user",
    tags=["live"],
    links={"/live/streams/{id}": "/data/id"},
)
async def create_stream(request: web.Request, body: StreamIn) -> web.Response:
    row = await service.create_stream(request.app, require_user(request), body)
    return ok(OwnStreamOut.model_validate(row), status=201)


@routes.put(STREAM)
@endpoint(
    "Update a stream's metadata (owner only)", body=StreamUpdate, response=OwnStreamOut, auth="owner", tags=["live"]
)
async def update_stream(request: web.Request, body: StreamUpdate) -> web.Response:
    stream_id = uuid_param(request)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    row = await service.update_stream(request.app, require_user(request), stream_id, changes)
    return ok(OwnStreamOut.model_validate(row))


class RtmpCall(NamedTuple):
    name: str  # the stream name the client sent: a publisher's key, a viewer's stream id
    session: str  # which nginx session calls: the client's address and nginx's client id
    call: str  # publish, publish_done, update_publish, update_play...


def rtmp_call(request: web.Request, query: RtmpQuery, form: RtmpForm) -> RtmpCall:
    """An nginx-rtmp callback's fields, once the shared secret in its URL checks out.

    nginx appends the client's own URL arguments after its fields: only the first of each name counts
    (veza.http.read_form).
    """
    expected = request.app[SETTINGS].rtmp_callback_secret or ""
    if not expected or not hmac.compare_digest(query.secret.encode(), expected.encode()):
        raise Forbidden("Bad callback secret", code="bad_secret")
    if not form.name or len(form.name) > 200:
        raise Forbidden("No stream name", code="invalid_stream_key")
    return RtmpCall(form.name, f"{form.addr[:100]}/{form.clientid[:100]}", form.call[:100])


RTMP_CALLBACK = {
    "tags": ["rtmp"],
    "content_type": "application/json",
    "errors": [403],
    "query": RtmpQuery,
    "form": RtmpForm,
    "auth": "credential",  # the shared secret in the callback URL
}


@routes.post("/live/rtmp/on_publish")
@endpoint(
    "nginx-rtmp: a publisher connects; a valid key gets a redirect to the stream's public id "
    "(nginx publishes under it, so the key is never a play name), anything else 403 (dropped), "
    "a streamer already live 409",
    response=PublishRedirect,
    status=302,
    tags=["rtmp"],
    content_type="application/json",
    errors=[403, 409],
    query=RtmpQuery,
    form=RtmpForm,
    auth="credential",
)
async def on_publish(request: web.Request, query: RtmpQuery, form: RtmpForm) -> web.Response:
    call = rtmp_call(request, query, form)
    row = await service.start_broadcast(request.app, call.name, call.session)
    return ok({"stream_id": row["id"]}, status=302, headers={"Location": str(row["id"])})


@routes.post("/live/rtmp/on_publish_done")
@endpoint("nginx-rtmp: the publisher left; the stream goes offline", **RTMP_CALLBACK)
async def on_publish_done(request: web.Request, query: RtmpQuery, form: RtmpForm) -> web.Response:
    call = rtmp_call(request, query, form)
    await service.end_broadcast(request.app, call.name, call.session)
    return ok({"ended": True})


@routes.post("/live/rtmp/on_update")
@endpoint(
    "nginx-rtmp: a session is still there (every notify_update_timeout); "
    "a publisher that holds no live stream gets 403 and is dropped",
    **RTMP_CALLBACK,
)
async def on_update(request: web.Request, query: RtmpQuery, form: RtmpForm) -> web.Response:
    call = rtmp_call(request, query, form)
    if call.call == "update_publish":
        await service.publisher_heartbeat(request.app, call.name, call.session)
    return ok({"alive": True})


@routes.post("/live/rtmp/on_play")
@endpoint("nginx-rtmp: a viewer started playing a stream by its id", **RTMP_CALLBACK)
async def on_play(request: web.Request, query: RtmpQuery, form: RtmpForm) -> web.Response:
    await service.count_viewer(request.app, rtmp_call(request, query, form).name, +1)
    return ok({"counted": True})


@routes.post("/live/rtmp/on_play_done")
@endpoint("nginx-rtmp: a viewer stopped playing", **RTMP_CALLBACK)
async def on_play_done(request: web.Request, query: RtmpQuery, form: RtmpForm) -> web.Response:
    await service.count_viewer(request.app, rtmp_call(request, query, form).name, -1)
    return ok({"counted": True})


@routes.get("/live/health")
@endpoint("Whether the RTMP server answers (cached a few seconds)", response=LiveHealth, tags=["live"], auth="public")
async def live_health(request: web.Request) -> web.Response:
    status = await service.rtmp_status(request.app)
    return ok({"status": status, "rtmp_url": request.app[SETTINGS].rtmp_public_url})
