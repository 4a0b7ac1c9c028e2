"""Fan-out of Redis pub/sub messages to this process's WebSockets.

The hub keeps no business rules: it maps Redis channels to local sockets and
forwards each message as it came. A socket's send queue is its transport's
write buffer, bounded: a client that cannot keep up is closed, never waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict

from aiohttp import WSCloseCode, web
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from veza.auth.tokens import AuthUser
from veza.realtime.publish import PREFIX

log = logging.getLogger(__name__)

CONTROL_CHANNEL = PREFIX + "control"  # always subscribed, so the reader never runs dry
MAX_BUFFERED = 256 * 1024  # bytes a socket may have waiting to be sent before it counts as too slow
# The transport pauses writers only past this, far above MAX_BUFFERED: a send to a socket
# under the limit is written at once and never waits, so the fan-out loop never blocks.
TRANSPORT_HIGH_WATER = 4 * 1024 * 1024
CLOSE_TOO_SLOW = 4008
CLOSE_UNAUTHORIZED = 4401
SHUTDOWN_GRACE = 5.0  # seconds for clients to answer the closing handshake


class Connection:
    """One socket. Its send queue is the transport's write buffer, bounded by MAX_BUFFERED."""

    __slots__ = ("channels", "closing", "expiry", "max_buffered", "transport", "user", "ws")

    def __init__(self, ws: web.WebSocketResponse, transport, user: AuthUser | None, max_buffered: int) -> None:
        self.ws = ws
        self.transport = transport
        self.max_buffered = max_buffered
        self.channels: set[str] = set()
        self.closing = False
        self.user: AuthUser | None = None
        self.expiry: asyncio.TimerHandle | None = None
        transport.set_write_buffer_limits(high=TRANSPORT_HIGH_WATER)
        if user is not None:
            self.authenticate(user)

    def authenticate(self, user: AuthUser) -> None:
        """Act for `user` until their token expires; then the socket closes and the client reconnects."""
        self.user = user
        if self.expiry is not None:
            self.expiry.cancel()
        self.expiry = asyncio.get_running_loop().call_later(
            max(0.0, user.exp - time.time()), self.close, CLOSE_UNAUTHORIZED, "access token expired"
        )

    async def send(self, message: str) -> None:
        """Write a message now; a client whose unsent bytes pile up past the limit is closed instead."""
        if self.closing or self.transport.is_closing():
            return
        if self.transport.get_write_buffer_size() > self.max_buffered:
            self.close(CLOSE_TOO_SLOW, "too slow: send buffer full")
            return
        try:
            await self.ws.send_str(message)
        except (ConnectionError, RuntimeError):  # the peer went away between the check and the write
            self.closing = True

    def close(self, code: int, reason: str) -> None:
        """Close without waiting (from the fan-out path)."""
        if not self.closing:
            asyncio.create_task(self.aclose(code, reason))  # noqa: RUF006
            self.closing = True

    async def aclose(self, code: int, reason: str) -> None:
        self.closing = True
        await self.ws.close(code=code, message=reason.encode())


class Hub:
    def __init__(self, redis: Redis, max_buffered: int = MAX_BUFFERED) -> None:
        self.max_buffered = max_buffered
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._routes: dict[str, set[Connection]] = defaultdict(set)
        self._subscribing: dict[str, asyncio.Task] = {}
        self._connections: set[Connection] = set()
        self._reader: asyncio.Task | None = None
        # redis-py's PubSub opens its connection on the first command: two commands racing
        # there would each open one and orphan a subscription. One command at a time.
        self._command_lock = asyncio.Lock()

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read())

    async def close_all(self) -> None:
        """Close every socket with GOING_AWAY and wait (a bounded time) for the closing handshakes."""
        closing = [c.aclose(WSCloseCode.GOING_AWAY, "server shutdown") for c in self._connections if not c.closing]
        if closing:
            await asyncio.wait([asyncio.ensure_future(c) for c in closing], timeout=SHUTDOWN_GRACE)

    async def stop(self) -> None:
        """Close every socket with GOING_AWAY, then the Redis subscription."""
        await self.close_all()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()

    def connect(self, ws: web.WebSocketResponse, transport, user: AuthUser | None) -> Connection:
        connection = Connection(ws, transport, user, self.max_buffered)
        self._connections.add(connection)
        return connection

    async def disconnect(self, connection: Connection) -> None:
        self._connections.discard(connection)
        connection.closing = True
        if connection.expiry is not None:
            connection.expiry.cancel()
        for channel in list(connection.channels):
            await self.unsubscribe(connection, channel)

    async def subscribe(self, connection: Connection, channel: str) -> None:
        """Route `channel` to the connection; return once Redis has confirmed the subscription."""
        connection.channels.add(channel)
        subscribers = self._routes[channel]
        subscribers.add(connection)
        if len(subscribers) == 1 and channel not in self._subscribing:
            self._subscribing[channel] = asyncio.create_task(self._command("subscribe", channel))
        pending = self._subscribing.get(channel)
        if pending is not None:
            try:
                await asyncio.shield(pending)
            finally:
                if pending.done():
                    self._subscribing.pop(channel, None)

    async def unsubscribe(self, connection: Connection, channel: str) -> None:
        connection.channels.discard(channel)
        subscribers = self._routes.get(channel)
        if subscribers is None:
            return
        subscribers.discard(connection)
        if not subscribers:
            del self._routes[channel]
            with contextlib.suppress(RedisConnectionError, RedisTimeoutError):
                await self._command("unsubscribe", channel)

    async def _command(self, name: str, channel: str) -> None:
        async with self._command_lock:
            await getattr(self._pubsub, name)(channel)

    async def deliver(self, channel: str, message: str) -> None:
        # Sends to sockets under their limit complete without waiting (see TRANSPORT_HIGH_WATER),
        # so this loop costs what a bare send_str loop costs.
        for connection in list(self._routes.get(channel, ())):
            await connection.send(message)

    async def _read(self) -> None:
        """Forward messages until stopped; while Redis is away, retry every second (redis-py resubscribes)."""
        while True:
            try:
                await self._command("subscribe", CONTROL_CHANNEL)
                async for message in self._pubsub.listen():
                    if message["type"] == "message":
                        await self.deliver(message["channel"], message["data"])
            except (RedisConnectionError, RedisTimeoutError, OSError):
                log.warning("lost the Redis pub/sub connection; reconnecting", exc_info=True)
                await asyncio.sleep(1)

    @property
    def connection_count(self) -> int:
        return len(self._connections)
