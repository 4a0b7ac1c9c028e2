"""Fan-out of Redis pub/sub messages to this process's WebSockets.

The hub keeps no business rules: it maps Redis channels to local sockets and
forwards each message as it came. A socket's send queue is its transport's
write buffer, bounded: a client that cannot keep up is closed, never waited for.

A channel is routed to a socket only once Redis has confirmed the subscription.
One reader task owns the Redis pub/sub connection: when the connection is lost
it refuses new subscriptions, reconnects with a fresh connection and subscribes
every routed channel again; an unexpected error restarts it the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from uuid import UUID

import orjson
from aiohttp import WSCloseCode, web
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from veza.auth.tokens import AuthUser
from veza.errors import Unavailable
from veza.realtime.publish import Channels
from veza.tasks import Tasks

log = logging.getLogger(__name__)

MAX_BUFFERED = 256 * 1024  # bytes a socket may have waiting to be sent before it counts as too slow
# The transport pauses writers only past this, far above MAX_BUFFERED: a send to a socket
# under the limit is written at once and never waits, so the fan-out loop never blocks.
TRANSPORT_HIGH_WATER = 4 * 1024 * 1024
FIN_TEXT = 0x81  # a final frame of a text message
CLOSE_TOO_SLOW = 4008
CLOSE_UNAUTHORIZED = 4401
SHUTDOWN_GRACE = 5.0  # seconds for clients to answer the closing handshake
CONFIRM_TIMEOUT = 5.0  # seconds Redis has to confirm a subscription
IDLE_PING = 5.0  # seconds without a message from Redis before the reader pings it
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 4.0)  # between attempts to reconnect; the last one repeats


def text_frame(message: str | bytes) -> bytes:
    """`message` (text, or its UTF-8 bytes) as one unmasked, uncompressed WebSocket text frame
    (RFC 6455 section 5.2), as a server sends it."""
    payload = message.encode() if isinstance(message, str) else message
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", FIN_TEXT, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", FIN_TEXT, 126, length)
    else:
        header = struct.pack("!BBQ", FIN_TEXT, 127, length)
    return header + payload


class Connection:
    """One socket. Its send queue is the transport's write buffer, bounded by MAX_BUFFERED."""

    __slots__ = ("address", "channels", "closing", "expiry", "max_buffered", "tasks", "transport", "user", "ws")

    def __init__(
        self, ws: web.WebSocketResponse, transport, address: str, max_buffered: int, tasks: Tasks | None = None
    ) -> None:
        self.ws = ws
        self.tasks = tasks if tasks is not None else Tasks()
        self.transport = transport
        self.address = address
        self.max_buffered = max_buffered
        self.channels: set[str] = set()
        self.closing = False
        self.user: AuthUser | None = None
        self.expiry: asyncio.TimerHandle | None = None
        transport.set_write_buffer_limits(high=TRANSPORT_HIGH_WATER)

    def authenticate(self, user: AuthUser) -> None:
        """Act for `user` until their token expires; then the socket closes and the client reconnects."""
        self.user = user
        if self.expiry is not None:
            self.expiry.cancel()
        self.expiry = asyncio.get_running_loop().call_later(
            max(0.0, user.exp - time.time()), self.close, CLOSE_UNAUTHORIZED, "access token expired"
        )

    def send(self, message: str | bytes) -> None:
        """Write a text message now (see `write`)."""
        self.write(text_frame(message))

    def write(self, frame: bytes) -> None:
        """Write a WebSocket frame now; a client whose unsent bytes pile up past the limit is closed instead.

        Straight to the transport, as aiohttp's own writer does (in one write, so frames never
        interleave): the fan-out encodes a message once for all its sockets.
        """
        if self.closing or self.ws.closed or self.transport.is_closing():  # no frame may follow a close frame
            return
        if self.transport.get_write_buffer_size() > self.max_buffered:
            self.close(CLOSE_TOO_SLOW, "too slow: send buffer full")
            return
        self.transport.write(frame)

    def close(self, code: int, reason: str) -> None:
        """Close without waiting (from the fan-out path)."""
        if not self.closing:
            self.tasks.spawn(self.aclose(code, reason))
            self.closing = True

    async def aclose(self, code: int, reason: str) -> None:
        self.closing = True
        await self.ws.close(code=code, message=reason.encode())


class Hub:
    def __init__(
        self,
        redis: Redis,
        channels: Channels,
        max_buffered: int = MAX_BUFFERED,
        max_sockets_per_client: int = 50,
        tasks: Tasks | None = None,
    ) -> None:
        self.max_buffered = max_buffered
        self.tasks = tasks if tasks is not None else Tasks()  # the app's, drained on shutdown
        self.max_sockets_per_client = max_sockets_per_client
        self._redis = redis
        self.channels = channels
        self._pubsub: PubSub = redis.pubsub()
        self._online = False  # the reader holds a pub/sub connection that subscribed every routed channel
        self._routes: dict[str, set[Connection]] = {}
        # Channels whose SUBSCRIBE Redis has not confirmed yet: True once it has, False if the connection was lost.
        self._confirmations: dict[str, asyncio.Future[bool]] = {}
        self._sessions: dict[UUID, set[Connection]] = {}
        self._sockets_per_client: dict[str, int] = {}
        self._connections: set[Connection] = set()
        self._reader: asyncio.Task | None = None
        # redis-py's PubSub opens its connection on the first command: two commands racing
        # there would each open one and orphan a subscription. One command at a time.
        self._command_lock = asyncio.Lock()
        self.reader_restarts = 0
        self.confirm_timeout = CONFIRM_TIMEOUT
        self.idle_ping = IDLE_PING
        self._first_attempt = asyncio.Event()

    @property
    def online(self) -> bool:
        return self._online

    def follows(self, channel: str) -> bool:
        """Whether some socket of this process follows (or is subscribing to) the Redis channel."""
        return channel in self._routes

    async def start(self) -> None:
        """Start the reader; wait (a bounded time) for its first connection, so that the app starts online."""
        self._reader = asyncio.create_task(self._supervise())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), self.confirm_timeout)

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

    def admit(self, address: str) -> bool:
        """Count a socket from `address`, unless that address has its share already."""
        count = self._sockets_per_client.get(address, 0)
        if count >= self.max_sockets_per_client:
            return False
        self._sockets_per_client[address] = count + 1
        return True

    def release(self, address: str) -> None:
        count = self._sockets_per_client.get(address, 0) - 1
        if count > 0:
            self._sockets_per_client[address] = count
        else:
            self._sockets_per_client.pop(address, None)

    def connect(self, ws: web.WebSocketResponse, transport, address: str, user: AuthUser | None) -> Connection:
        connection = Connection(ws, transport, address, self.max_buffered, self.tasks)
        self._connections.add(connection)
        if user is not None:
            self.authenticate(connection, user)
        return connection

    def authenticate(self, connection: Connection, user: AuthUser) -> None:
        """Act for `user` from now on; the socket closes when their token expires or their session ends."""
        if connection.user is not None:
            self._forget_session(connection)
        connection.authenticate(user)
        self._sessions.setdefault(user.sid, set()).add(connection)

    def _forget_session(self, connection: Connection) -> None:
        sid = connection.user.sid
        sockets = self._sessions.get(sid)
        if sockets is not None:
            sockets.discard(connection)
            if not sockets:
                del self._sessions[sid]

    async def disconnect(self, connection: Connection) -> None:
        if connection not in self._connections:
            return
        self._connections.discard(connection)
        connection.closing = True
        if connection.expiry is not None:
            connection.expiry.cancel()
        if connection.user is not None:
            self._forget_session(connection)
        for channel in list(connection.channels):
            await self.unsubscribe(connection, channel)

    def close_sessions(self, session_ids: list[UUID]) -> None:
        for sid in session_ids:
            for connection in list(self._sessions.get(sid, ())):
                connection.close(CLOSE_UNAUTHORIZED, "session ended")

    async def subscribe(self, connection: Connection, channel: str) -> None:
        """Route `channel` to the connection once Redis has confirmed it; Unavailable when it cannot."""
        if channel in connection.channels:
            return
        if not self._online:
            raise Unavailable("Real-time events are unavailable right now; try again")
        subscribers = self._routes.get(channel)
        first = subscribers is None
        if first:
            subscribers = self._routes[channel] = set()
            self._confirmations[channel] = asyncio.get_running_loop().create_future()
        confirmation = self._confirmations.get(channel)  # None: confirmed already
        subscribers.add(connection)
        connection.channels.add(channel)
        confirmed = confirmation is None
        try:
            if first:
                await self._command("subscribe", channel)
            if not confirmed:
                confirmed = await asyncio.wait_for(asyncio.shield(confirmation), self.confirm_timeout)
        except (RedisError, OSError, TimeoutError):
            if first and not confirmation.done():
                confirmation.set_result(False)  # nobody waits for a SUBSCRIBE that was never sent
        finally:
            if not confirmed:
                await self.unsubscribe(connection, channel)
        if not confirmed:
            raise Unavailable("Real-time events are unavailable right now; try again")

    async def unsubscribe(self, connection: Connection, channel: str) -> None:
        connection.channels.discard(channel)
        subscribers = self._routes.get(channel)
        if subscribers is None:
            return
        subscribers.discard(connection)
        if not subscribers:
            del self._routes[channel]
            confirmation = self._confirmations.pop(channel, None)
            if confirmation is not None and not confirmation.done():
                confirmation.set_result(False)
            if self._online:  # otherwise the next connection simply does not subscribe it
                with contextlib.suppress(RedisError, OSError):
                    await self._command("unsubscribe", channel)

    async def _command(self, name: str, *args: str) -> None:
        async with self._command_lock:
            if not self._online:  # a command on a dropped PubSub would open a connection nobody reads
                raise RedisConnectionError("the WebSocket hub is reconnecting to Redis")
            await getattr(self._pubsub, name)(*args)

    def deliver(self, channel: str, message: str | bytes) -> None:
        """Send `message` to the channel's sockets: one frame, encoded once, written to each."""
        connections = self._routes.get(channel)
        if not connections:
            return
        frame = text_frame(message)
        for connection in list(connections):
            connection.write(frame)

    async def _supervise(self) -> None:
        """Run the reader for good: reconnect after an outage, restart after an unexpected error."""
        attempt = 0
        while True:
            try:
                try:
                    await self._connect()
                finally:
                    self._first_attempt.set()
                if attempt:
                    log.info("the WebSocket hub is subscribed to Redis again (%d channels)", len(self._routes))
                attempt = 0
                await self._read()
            except (RedisError, OSError) as exc:
                if self._online or attempt == 0:
                    log.warning("lost the Redis pub/sub connection (%s); reconnecting", exc)
            except Exception:
                log.exception("the WebSocket hub's reader failed; restarting it")
                self.reader_restarts += 1
            await self._disconnected()
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            attempt += 1

    async def _connect(self) -> None:
        """A fresh pub/sub connection, subscribed to the control channel and every routed channel."""
        pubsub = self._pubsub = self._redis.pubsub()
        async with self._command_lock:
            await pubsub.subscribe(self.channels.control, *self._routes)
            # Sending is not enough (a frozen server accepts connections): wait for its first answer.
            reply = await pubsub.get_message(timeout=self.confirm_timeout)
            if reply is None or reply["type"] != "subscribe":
                raise RedisTimeoutError("Redis did not confirm the subscription")
            self._online = True

    async def _disconnected(self) -> None:
        """Refuse subscriptions until the reader has reconnected; drop the lost connection."""
        self._online = False
        for confirmation in self._confirmations.values():
            if not confirmation.done():
                confirmation.set_result(False)
        self._confirmations.clear()  # the next connection subscribes every routed channel anyway
        with contextlib.suppress(Exception):  # it is being dropped: whatever it raises changes nothing
            await self._pubsub.aclose()

    async def _read(self) -> None:
        """Forward messages until the connection fails; ping Redis when it is quiet, to notice a dead one."""
        pubsub = self._pubsub
        loop = asyncio.get_running_loop()
        pinged_at = None
        while True:
            message = await pubsub.get_message(timeout=self.idle_ping)
            if message is None:  # quiet (or redis-py's own health check answered)
                if pinged_at is None:
                    await self._command("ping")
                    pinged_at = loop.time()
                elif loop.time() - pinged_at >= self.idle_ping:
                    raise RedisTimeoutError(f"Redis did not answer a ping within {self.idle_ping:g} s")
                continue
            pinged_at = None
            kind = message["type"]
            if kind == "message":
                channel = message["channel"]
                if channel == self.channels.control:
                    self._control(message["data"])
                else:
                    self.deliver(channel, message["data"])
            elif kind == "subscribe":
                confirmation = self._confirmations.pop(message["channel"], None)
                if confirmation is not None and not confirmation.done():
                    confirmation.set_result(True)

    def _control(self, data: str) -> None:
        try:
            order = orjson.loads(data)
            sessions = [UUID(sid) for sid in order.get("close_sessions", ())]
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            log.warning("ignored a malformed message on the hub's control channel")
            return
        self.close_sessions(sessions)

    @property
    def connection_count(self) -> int:
        return len(self._connections)
