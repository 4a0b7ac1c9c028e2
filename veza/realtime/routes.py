"""GET /ws: the WebSocket endpoint (protocol in DESIGN.md §4)."""

from __future__ import annotations

import contextlib
import time
from typing import Any
from uuid import UUID

import orjson
from aiohttp import WSMsgType, web

from veza.auth.revocation import is_revoked
from veza.auth.tokens import AuthUser, InvalidToken, decode_access_token
from veza.errors import Unavailable, UpgradeRequired
from veza.headers import prepare
from veza.http import endpoint
from veza.keys import CHANNELS, DB, HUB, REDIS_PUBSUB, SETTINGS, TASKS
from veza.live import queries as live
from veza.outages import down_dependency
from veza.ratelimit import client_ip
from veza.realtime.hub import CLOSE_UNAUTHORIZED, Connection, Hub
from veza.realtime.publish import Channels

routes = web.RouteTableDef()

HEARTBEAT_SECONDS = 30
MAX_MESSAGE_BYTES = 4096
MESSAGES_PER_SECOND, BURST = 20, 40  # frames of any kind: text, binary, ping, pong
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN_LATER = 1013
UNAVAILABLE = "Real-time events are unavailable right now; try again later"


def send(connection: Connection, message: dict[str, Any]) -> None:
    connection.send(orjson.dumps(message))


async def refuse(ws: web.WebSocketResponse, code: str, message: str, close_code: int) -> None:
    """Say why, then close: the last word is sent directly, not through the queue."""
    await ws.send_str(orjson.dumps({"type": "error", "code": code, "message": message}).decode())
    await ws.close(code=close_code, message=message.encode()[:120])


def error(connection: Connection, code: str, message: str) -> None:
    send(connection, {"type": "error", "code": code, "message": message})


def dependency_down(exc: Exception) -> bool:
    """A dependency (Redis, PostgreSQL) is down or too slow, as the HTTP side maps to 503: come back later."""
    return isinstance(exc, Unavailable) or down_dependency(exc) is not None


async def user_from_token(request: web.Request, token: Any) -> AuthUser:
    if not isinstance(token, str) or not token:
        raise InvalidToken("A token is required")
    user = decode_access_token(request.app[SETTINGS], token)
    if await is_revoked(request.app, user):
        raise InvalidToken("Access token revoked")
    return user


def redis_channel(channels: Channels, channel: Any, user: AuthUser | None) -> str:
    """The Redis channel behind a client's channel name; ValueError or PermissionError when not allowed."""
    if channel == "live":
        return channels.public("live")
    if isinstance(channel, str) and channel.startswith("live:"):
        return channels.public(f"live:{UUID(channel[5:])}")
    if channel == "notifications":
        if user is None:
            raise PermissionError("Authenticate to follow your notifications")
        return channels.user(user.id, "notifications")
    raise ValueError("Unknown channel")


async def stream_exists(app: web.Application, hub: Hub, channel: str, target: str) -> bool:
    """`live:<id>` names a stream that exists: each made-up one would cost a Redis subscription.

    A channel some socket of this process follows already was checked then (and costs nothing
    more): the crowd that joins a popular stream at once makes one query, not one each, and keeps
    joining while PostgreSQL is slow.
    """
    if not channel.startswith("live:") or hub.follows(target):
        return True
    return await live.stream_exists(app[DB], UUID(channel[5:]))


async def authenticate(hub: Hub, connection: Connection, user: AuthUser) -> None:
    """Act for `user`; a socket that was another user's leaves that user's own channels first."""
    previous = connection.user
    if previous is not None and previous.id != user.id:
        prefix = hub.channels.user(previous.id, "")
        for target in [channel for channel in connection.channels if channel.startswith(prefix)]:
            await hub.unsubscribe(connection, target)
            send(connection, {"type": "unsubscribed", "channel": target.removeprefix(prefix)})
    hub.authenticate(connection, user)


class Budget:
    """A token bucket of client messages: a flood is refused, not queued."""

    __slots__ = ("stamp", "tokens")

    def __init__(self) -> None:
        self.tokens = float(BURST)
        self.stamp = time.monotonic()

    def spend(self) -> bool:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.stamp) * MESSAGES_PER_SECOND)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


async def handle(request: web.Request, hub: Hub, connection: Connection, raw: str) -> None:
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return error(connection, "bad_message", "Messages must be JSON objects")
    if not isinstance(message, dict):
        return error(connection, "bad_message", "Messages must be JSON objects")
    kind = message.get("type")
    if kind == "ping":
        return send(connection, {"type": "pong"})
    if kind == "auth":
        try:
            user = await user_from_token(request, message.get("token"))
        except InvalidToken as exc:
            return error(connection, "unauthorized", str(exc))
        except Exception as exc:
            if not dependency_down(exc):
                raise
            # Who the socket speaks for cannot be checked: it reconnects later.
            error(connection, "unavailable", UNAVAILABLE)
            return connection.close(CLOSE_TRY_AGAIN_LATER, UNAVAILABLE)
        await authenticate(hub, connection, user)
        return send(connection, {"type": "authenticated", "user_id": str(connection.user.id)})
    if kind in ("subscribe", "unsubscribe"):
        channel = message.get("channel")
        try:
            target = redis_channel(hub.channels, channel, connection.user)
        except PermissionError as exc:
            return error(connection, "unauthorized", str(exc))
        except ValueError:
            return error(connection, "unknown_channel", f"Unknown channel: {str(channel)[:100]}")
        if kind == "unsubscribe":
            await hub.unsubscribe(connection, target)
            return send(connection, {"type": "unsubscribed", "channel": channel})
        if target in connection.channels:
            return send(connection, {"type": "subscribed", "channel": channel})
        cap = request.app[SETTINGS].ws_max_channels_per_socket
        if len(connection.channels) >= cap:
            return error(connection, "too_many_subscriptions", f"At most {cap} channels")
        try:
            if not await stream_exists(request.app, hub, channel, target):
                return error(connection, "unknown_channel", f"No such stream: {channel[5:]}")
            await hub.subscribe(connection, target)
        except Exception as exc:
            if not dependency_down(exc):
                raise
            return error(connection, "unavailable", UNAVAILABLE)
        return send(connection, {"type": "subscribed", "channel": channel})
    return error(connection, "unknown_type", "Known types: auth, subscribe, unsubscribe, ping")


@routes.get("/ws")
@endpoint(
    "WebSocket: live status and notifications in real time (protocol in the API description)",
    status=101,
    tags=["realtime"],
    errors=[426],
    auth="optional",
)
async def websocket(request: web.Request) -> web.WebSocketResponse:
    hub = request.app[HUB]
    # No permessage-deflate: events are small JSON, and a compressor costs ~100 KiB per socket.
    # No autoping: pings are answered below, so that they count against the flood limit too.
    ws = web.WebSocketResponse(
        heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_MESSAGE_BYTES, compress=False, autoping=False
    )
    if not ws.can_prepare(request).ok:
        raise UpgradeRequired("websocket")
    address = client_ip(request)
    if not hub.admit(address):
        await prepare(request, ws)
        cap = request.app[SETTINGS].ws_max_sockets_per_client
        await refuse(ws, "too_many_connections", f"At most {cap} sockets per client address", CLOSE_POLICY)
        return ws
    try:
        await prepare(request, ws)
        await serve(request, hub, ws, address)
    finally:
        hub.release(address)
    return ws


async def serve(request: web.Request, hub: Hub, ws: web.WebSocketResponse, address: str) -> None:
    user = None
    # Parsing the query string only when it can hold a token saves its dict on every other socket.
    token = request.query.get("token") if "token=" in request.query_string else None
    if token is not None:
        try:
            user = await user_from_token(request, token)
        except InvalidToken as exc:
            return await refuse(ws, "unauthorized", str(exc), CLOSE_UNAUTHORIZED)
        except Exception as exc:
            if not dependency_down(exc):
                raise
            return await refuse(ws, "unavailable", UNAVAILABLE, CLOSE_TRY_AGAIN_LATER)
    connection = hub.connect(ws, request.transport, address, user)
    try:
        budget = Budget()
        async for msg in ws:
            if connection.closing:
                break
            if not budget.spend():
                await hub.disconnect(connection)
                await refuse(ws, "rate_limited", "Too many messages", CLOSE_POLICY)
                break
            if msg.type == WSMsgType.TEXT:
                await handle(request, hub, connection, msg.data)
            elif msg.type == WSMsgType.PING:
                with contextlib.suppress(ConnectionError):  # the peer went away meanwhile
                    await ws.pong(msg.data)
            elif msg.type != WSMsgType.PONG:
                error(connection, "bad_message", "Only text messages are understood")
    finally:
        await hub.disconnect(connection)


async def hub_ctx(app: web.Application):
    hub = Hub(
        app[REDIS_PUBSUB],
        app[CHANNELS],
        max_sockets_per_client=app[SETTINGS].ws_max_sockets_per_client,
        tasks=app[TASKS],
    )
    await hub.start()
    app[HUB] = hub
    yield
    await hub.stop()


async def close_sockets_on_shutdown(app: web.Application) -> None:
    """on_shutdown runs before cleanup: sockets get GOING_AWAY while their handlers can still finish."""
    if HUB in app:
        await app[HUB].close_all()
