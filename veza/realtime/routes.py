"""GET /ws: the WebSocket endpoint (protocol in DESIGN.md §4)."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import orjson
from aiohttp import WSMsgType, web
from redis.exceptions import RedisError

from veza.auth.revocation import is_revoked
from veza.auth.tokens import AuthUser, InvalidToken, decode_access_token
from veza.headers import prepare
from veza.http import endpoint
from veza.keys import HUB, REDIS, REDIS_PUBSUB, SETTINGS
from veza.realtime.hub import CLOSE_UNAUTHORIZED, Connection, Hub
from veza.realtime.publish import public_channel, user_channel

routes = web.RouteTableDef()

HEARTBEAT_SECONDS = 30
MAX_MESSAGE_BYTES = 4096
MAX_SUBSCRIPTIONS = 100
MESSAGES_PER_SECOND, BURST = 20, 40
CLOSE_POLICY = 1008


async def send(connection: Connection, message: dict[str, Any]) -> None:
    await connection.send(orjson.dumps(message).decode())


async def refuse(ws: web.WebSocketResponse, code: str, message: str, close_code: int) -> None:
    """Say why, then close: the last word is sent directly, not through the queue."""
    await ws.send_str(orjson.dumps({"type": "error", "code": code, "message": message}).decode())
    await ws.close(code=close_code, message=message.encode()[:120])


async def error(connection: Connection, code: str, message: str) -> None:
    await send(connection, {"type": "error", "code": code, "message": message})


async def user_from_token(request: web.Request, token: Any) -> AuthUser:
    if not isinstance(token, str) or not token:
        raise InvalidToken("A token is required")
    user = decode_access_token(request.app[SETTINGS], token)
    if await is_revoked(request.app, user):
        raise InvalidToken("Access token revoked")
    return user


def redis_channel(channel: Any, user: AuthUser | None) -> str:
    """The Redis channel behind a client's channel name; ValueError or PermissionError when not allowed."""
    if channel == "live":
        return public_channel("live")
    if isinstance(channel, str) and channel.startswith("live:"):
        return public_channel(f"live:{UUID(channel[5:])}")
    if channel == "notifications":
        if user is None:
            raise PermissionError("Authenticate to follow your notifications")
        return user_channel(user.id, "notifications")
    raise ValueError("Unknown channel")


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
        return await error(connection, "bad_message", "Messages must be JSON objects")
    if not isinstance(message, dict):
        return await error(connection, "bad_message", "Messages must be JSON objects")
    kind = message.get("type")
    if kind == "ping":
        return await send(connection, {"type": "pong"})
    if kind == "auth":
        try:
            connection.authenticate(await user_from_token(request, message.get("token")))
        except InvalidToken as exc:
            return await error(connection, "unauthorized", str(exc))
        return await send(connection, {"type": "authenticated", "user_id": str(connection.user.id)})
    if kind in ("subscribe", "unsubscribe"):
        channel = message.get("channel")
        try:
            target = redis_channel(channel, connection.user)
        except PermissionError as exc:
            return await error(connection, "unauthorized", str(exc))
        except ValueError:
            return await error(connection, "unknown_channel", f"Unknown channel: {str(channel)[:100]}")
        if kind == "unsubscribe":
            await hub.unsubscribe(connection, target)
            return await send(connection, {"type": "unsubscribed", "channel": channel})
        if target not in connection.channels and len(connection.channels) >= MAX_SUBSCRIPTIONS:
            return await error(connection, "too_many_subscriptions", f"At most {MAX_SUBSCRIPTIONS} channels")
        try:
            await hub.subscribe(connection, target)
        except RedisError:
            return await error(connection, "unavailable", "Real-time events are unavailable right now; try again")
        return await send(connection, {"type": "subscribed", "channel": channel})
    return await error(connection, "unknown_type", "Known types: auth, subscribe, unsubscribe, ping")


@routes.get("/ws")
@endpoint("WebSocket: live status and notifications in real time (protocol in the API description)", tags=["realtime"])
async def websocket(request: web.Request) -> web.WebSocketResponse:
    hub = request.app[HUB]
    # No permessage-deflate: events are small JSON, and a compressor costs ~100 KiB per socket.
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_MESSAGE_BYTES, compress=False)
    await prepare(request, ws)
    user = None
    # Parsing the query string only when it can hold a token saves its dict on every other socket.
    token = request.query.get("token") if "token=" in request.query_string else None
    if token is not None:
        try:
            user = await user_from_token(request, token)
        except InvalidToken as exc:
            await refuse(ws, "unauthorized", str(exc), CLOSE_UNAUTHORIZED)
            return ws
    connection = hub.connect(ws, request.transport, user)
    try:
        budget = Budget()
        async for msg in ws:
            if connection.closing:
                break
            if msg.type != WSMsgType.TEXT:
                await error(connection, "bad_message", "Only text messages are understood")
                continue
            if not budget.spend():
                await hub.disconnect(connection)
                await refuse(ws, "rate_limited", "Too many messages", CLOSE_POLICY)
                break
            await handle(request, hub, connection, msg.data)
    finally:
        await hub.disconnect(connection)
    return ws


async def hub_ctx(app: web.Application):
    hub = Hub(app[REDIS_PUBSUB])
    await hub.start()
    app[HUB] = hub
    yield
    await hub.stop()


async def close_sockets_on_shutdown(app: web.Application) -> None:
    """on_shutdown runs before cleanup: sockets get GOING_AWAY while their handlers can still finish."""
    if HUB in app:
        await app[HUB].close_all()
