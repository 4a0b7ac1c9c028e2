"""Live streams: keys, metadata, and the RTMP server's callbacks."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any
from uuid import UUID

from aiohttp import web

from veza.auth.tokens import AuthUser
from veza.constants import VIEWERS_SENT_PREFIX
from veza.db import Executor, UniqueViolation, transaction
from veza.errors import Conflict, Forbidden
from veza.keys import DB, REDIS, RTMP_HEALTH, SETTINGS, VIEWER_EVENTS
from veza.live import queries
from veza.live.models import StreamIn, StreamOut
from veza.realtime.publish import publish
from veza.tags.normalize import normalize_tags
from veza.tasks import spawn

DRAFT_TITLE = "Untitled stream"
VIEWER_EVENTS_EVERY = 1.0  # seconds, at most, per stream
RTMP_HEALTH_CACHE_SECONDS = 5  # how long one probe of the RTMP server answers /live/health


def new_stream_key() -> str:
    return "live_" + secrets.token_urlsafe(24)


def public(row: dict[str, Any]) -> dict[str, Any]:
    return StreamOut.model_validate(row).model_dump(mode="json")


async def ensure_key(tx: Executor, user_id: UUID) -> str:
    return await queries.get_key(tx, user_id) or await queries.insert_key_if_missing(tx, user_id, new_stream_key())


async def create_stream(app: web.Application, user: AuthUser, body: StreamIn) -> dict[str, Any]:
    fields = body.model_dump()
    fields["tags"] = normalize_tags(fields["tags"])
    async with transaction(app[DB]) as tx:
        row = await queries.insert_stream(tx, user.id, fields)
        return {**row, "stream_key": await ensure_key(tx, user.id)}


async def update_stream(app: web.Application, user: AuthUser, stream_id: UUID, changes: dict[str, Any]) -> dict:
    if "tags" in changes:
        changes["tags"] = normalize_tags(changes["tags"])
    async with transaction(app[DB]) as tx:
        row = await queries.update_stream(tx, stream_id, user.id, changes)
        if row["is_live"]:
            tx.after_commit(announce, app, "stream.updated", public(row))
        return {**row, "stream_key": await ensure_key(tx, user.id)}


async def my_key(app: web.Application, user: AuthUser) -> dict[str, Any]:
    """The caller's key and RTMP URL; a draft stream is made for a streamer who has none."""
    async with transaction(app[DB]) as tx:
        await ensure_key(tx, user.id)
        # Locked, so that concurrent calls see the draft stream the first one made, not make one each.
        key = await queries.lock_key(tx, user.id)
        stream = await queries.latest_stream(tx, user.id)
        if stream is None:
            stream = await queries.insert_stream(
                tx, user.id, {"title": DRAFT_TITLE, "description": "", "category": "", "tags": []}
            )
    return {"stream_key": key, "rtmp_url": app[SETTINGS].rtmp_public_url, "stream_id": stream["id"]}


async def regenerate_key(app: web.Application, user: AuthUser) -> dict[str, Any]:
    """A new key; the old one is refused from now on (a broadcast already running goes on)."""
    async with transaction(app[DB]) as tx:
        await queries.set_key(tx, user.id, new_stream_key())
    return await my_key(app, user)


async def announce(app: web.Application, event: str, stream: dict[str, Any]) -> None:
    await publish(app, "live", event, stream)
    await publish(app, f"live:{stream['id']}", event, stream)


async def start_broadcast(app: web.Application, name: str, client: str) -> dict[str, Any]:
    """on_publish: the key's streamer goes live on their newest unfinished stream (or a new one).

    A stream still live from a session whose heartbeat stopped (nginx died) is ended and a new one
    starts: the new publisher takes over. A live stream with a fresh heartbeat refuses a second one.
    """
    stale_after = app[SETTINGS].rtmp_heartbeat_timeout
    try:
        async with transaction(app[DB]) as tx:
            user_id = await queries.user_by_key(tx, name)
            if user_id is None:
                raise Forbidden("Unknown stream key", code="invalid_stream_key")
            stream = await queries.stream_to_go_live(tx, user_id, stale_after)
            if stream is not None and stream["is_live"]:
                if not stream["heartbeat_stale"]:
                    raise Conflict("This streamer is already live", code="already_live")
                ended = await queries.end_stream(tx, stream["id"])
                tx.after_commit(announce, app, "stream.ended", public(ended))
                stream = None
            if stream is None:
                stream = await queries.insert_stream(tx, user_id, await metadata_to_carry_on(tx, user_id))
            row = await queries.set_live(tx, stream["id"], name, client)
            tx.after_commit(announce, app, "stream.started", public(row))
    except UniqueViolation:
        raise Conflict("This streamer is already live", code="already_live") from None
    return row


async def metadata_to_carry_on(tx: Executor, user_id: UUID) -> dict[str, Any]:
    """A new stream's title, description, category and tags: those of the streamer's latest stream."""
    latest = await queries.latest_stream(tx, user_id) or {}
    defaults = {"title": DRAFT_TITLE, "description": "", "category": "", "tags": []}
    return {key: latest.get(key, default) for key, default in defaults.items()}


async def end_broadcast(app: web.Application, name: str, client: str) -> None:
    """on_publish_done: the stream that session `client` published under `name` goes offline."""
    async with transaction(app[DB]) as tx:
        row = await queries.end_live(tx, name, client)
        if row is not None:
            tx.after_commit(announce, app, "stream.ended", public(row))


async def publisher_heartbeat(app: web.Application, name: str, client: str) -> None:
    """on_update of a publisher: it is still there. A session that holds no live stream is refused (nginx drops it)."""
    if await queries.touch_heartbeat(app[DB], name, client) is None:
        raise Forbidden("This session publishes no live stream", code="not_live")


async def end_stale_broadcasts(app: web.Application) -> int:
    """End the streams whose publisher stopped sending heartbeats; how many. Safe to run twice."""
    async with transaction(app[DB]) as tx:
        rows = await queries.end_stale(tx, app[SETTINGS].rtmp_heartbeat_timeout)
        for row in rows:
            tx.after_commit(announce, app, "stream.ended", public(row))
    return len(rows)


async def count_viewer(app: web.Application, name: str, delta: int) -> None:
    """on_play / on_play_done: keep viewer_count; viewers hear of it at most once a second.

    Viewers play a stream by its public id (on_publish renamed it); the key is never a play name.
    """
    db = app[DB]
    stream = await queries.live_stream_by_id(db, name)
    if stream is None:
        if delta > 0:
            raise Forbidden("No live stream by that name", code="not_live")
        return
    await queries.add_viewers(db, stream["id"], delta)
    await app[VIEWER_EVENTS].changed(stream["id"])


async def rtmp_status(app: web.Application) -> str:
    """ "ok" when the RTMP server accepts a TCP connection, else "down"; probed at most every few seconds."""
    cache = app[RTMP_HEALTH]
    if time.monotonic() - cache.get("at", -1e9) > RTMP_HEALTH_CACHE_SECONDS:
        settings = app[SETTINGS]
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(settings.rtmp_health_host, settings.rtmp_health_port),
                settings.rtmp_health_timeout,
            )
            writer.close()
            await writer.wait_closed()
            cache["status"] = "ok"
        except (OSError, TimeoutError):
            cache["status"] = "down"
        cache["at"] = time.monotonic()
    return cache["status"]


class ViewerEvents:
    """`stream.viewers` at most once a second per stream (across processes), with the last count always sent."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.pending: dict[UUID, asyncio.TimerHandle] = {}

    async def changed(self, stream_id: UUID) -> None:
        throttle = f"{VIEWERS_SENT_PREFIX}{stream_id}"
        if await self.app[REDIS].set(throttle, 1, px=int(VIEWER_EVENTS_EVERY * 1000), nx=True):
            stream = await queries.get_stream(self.app[DB], stream_id)
            await announce(self.app, "stream.viewers", {"id": str(stream_id), "viewer_count": stream["viewer_count"]})
        elif stream_id not in self.pending:
            loop = asyncio.get_running_loop()
            self.pending[stream_id] = loop.call_later(VIEWER_EVENTS_EVERY, self._trailing, stream_id)

    def _trailing(self, stream_id: UUID) -> None:
        del self.pending[stream_id]
        spawn(self.app, self.changed(stream_id))  # a lost update is logged, not worth a crash

    def cancel(self) -> None:
        for handle in self.pending.values():
            handle.cancel()
        self.pending.clear()


async def erase_streams(app: web.Application, user_id: UUID) -> None:
    """A deleted account's streams and key go; a stream still live ends first, and its viewers hear so."""
    async with transaction(app[DB]) as tx:
        for row in await queries.end_user_streams(tx, user_id):
            tx.after_commit(announce, app, "stream.ended", public(row))
        await queries.delete_user_streams(tx, user_id)
