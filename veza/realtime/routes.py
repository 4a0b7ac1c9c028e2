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
from veza.http import endpoint
from veza.keys import HUB, REDIS, SETTINGS
from veza.realtime.hub import Connection, Hub
from veza.realtime.publish import public_channel, user_channel

routes = web.RouteTableDef()

HEARTBEAT_SECONDS = 30
MAX_MESSAGE_BYTES = 4096
MAX_SUBSCRIPTIONS = 100
MESSAGES_PER_SECOND, BURST = 20, 40
CLOSE_POLICY = 1008
CLOSE_UNAUTHORIZED = 4401


def send(connection: Connection, message: dict[str, Any]) -> None:
    connection.offer(orjson.dumps(message).decode())


async def refuse(ws: web.WebSocketResponse, code: str, message: str, close_code: int) -> None:
    """Say why, then close: the last word is sent directly, not through the queue."""
    await ws.send_str(orjson.dumps({"type": "error", "code": code, "message": message}).decode())
    await ws.close(code=close_code, message=message.encode()[:120])


def error(connection: Connection, code: str, message: str) -> None:
    send(connection, {"type": "error", "code": code, "message": message})


async def user_from_token(request: web.Request, token: Any) -> AuthUser:
    if not isinstance(token, str) or not token:
        raise InvalidToken("A token is required")
    user = decode_access_token(request.app[SETTINGS], token)
    if await is_revoked(request.app[REDIS], user):
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
        return error(connection, "bad_message", "Messages must be JSON objects")
    if not isinstance(message, dict):
        return error(connection, "bad_message", "Messages must be JSON objects")
    kind = message.get("type")
    if kind == "ping":
        return send(connection, {"type": "pong"})
    if kind == "auth":
        try:
            connection.user = await user_from_token(request, message.get("token"))
        except InvalidToken as exc:
            return error(connection, "unauthorized", str(exc))
        return send(connection, {"type": "authenticated", "user_id": str(connection.user.id)})
    if kind in ("subscribe", "unsubscribe"):
        channel = message.get("channel")
        try:
            target = redis_channel(channel, connection.user)
        except PermissionError as exc:
            return error(connection, "unauthorized", str(exc))
        except ValueError:
            return error(connection, "unknown_channel", f"Unknown channel: {str(channel)[:100]}")
        if kind == "unsubscribe":
            await hub.unsubscribe(connection, target)
            return send(connection, {"type": "unsubscribed", "channel": channel})
        if target not in connection.channels and len(connection.channels) >= MAX_SUBSCRIPTIONS:
            return error(connection, "too_many_subscriptions", f"At most {MAX_SUBSCRIPTIONS} channels")
        try:
            await hub.subscribe(connection, target)
        except RedisError:
            return error(connection, "unavailable", "Real-time events are unavailable right now; try again")
        return send(connection, {"type": "subscribed", "channel": channel})
    return error(connection, "unknown_type", "Known types: auth, subscribe, unsubscribe, ping")


@routes.get("/ws")
@endpoint("WebSocket: live status and notifications in real time (protocol in the API description)", tags=["realtime"])
async def websocket(request: web.Request) -> web.WebSocketResponse:
    hub = request.app[HUB]
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    user = None
    if "token" in request.query:
        try:
            user = await user_from_token(request, request.query["token"])
        except InvalidToken as exc:
            await refuse(ws, "unauthorized", str(exc), CLOSE_UNAUTHORIZED)
            return ws
    connection = hub.connect(ws, user)
    try:
        budget = Budget()
        async for msg in ws:
            if connection.closing:
                break
            if msg.type != WSMsgType.TEXT:
                error(connection, "bad_message", "Only text messages are understood")
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
    hub = Hub(app[REDIS])
    await hub.start()
    app[HUB] = hub
    yield
    await hub.stop()


async def close_sockets_on_shutdown(app: web.Application) -> None:
    """on_shutdown runs before cleanup: sockets get GOING_AWAY while their handlers can still finish."""
    if HUB in app:
        await app[HUB].close_all()
