"""The one way to emit a real-time event, from a web handler or a worker.

Events go through Redis PUBLISH, so every web process delivers them to its own
sockets. Call it after commit (``tx.after_commit(publish, ...)``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aiohttp import web
from redis.exceptions import RedisError

from veza.constants import REALTIME_PREFIX
from veza.http import json_dumps
from veza.keys import CHANNELS, HUB, REDIS

log = logging.getLogger(__name__)


class Channels:
    """The Redis channels behind the real-time channels.

    Redis pub/sub ignores the db number: two deployments (or test runs) sharing a server on
    different dbs would hear each other's events. The names carry the db number, so events stay
    apart the way keys do.
    """

    def __init__(self, redis_db: int) -> None:
        self.prefix = f"{REALTIME_PREFIX}{redis_db}:"
        self.control = self.prefix + "control"  # orders to every web process's hub; no client can follow it

    def public(self, channel: str) -> str:
        """The Redis channel of a public channel (`live`, `live:<id>`)."""
        return self.prefix + channel

    def user(self, user_id: UUID | str, channel: str) -> str:
        """The Redis channel of a user's own channel (`notifications`)."""
        return f"{self.prefix}user:{user_id}:{channel}"


def event_message(channel: str, event: str, data: Any) -> str:
    message = {"type": "event", "channel": channel, "event": event, "data": data, "ts": datetime.now(UTC)}
    return json_dumps(message).decode()


async def publish(app: web.Application, channel: str, event: str, data: Any) -> None:
    """Emit `event` on a public channel."""
    await app[REDIS].publish(app[CHANNELS].public(channel), event_message(channel, event, data))


async def publish_to_user(app: web.Application, user_id: UUID, channel: str, event: str, data: Any) -> None:
    """Emit `event` on one user's own channel; only their sockets receive it."""
    await app[REDIS].publish(app[CHANNELS].user(user_id, channel), event_message(channel, event, data))


async def close_sessions(app: web.Application, session_ids: Iterable[UUID]) -> None:
    """Close, in every web process, the sockets authenticated in these sessions (4401).

    Call it after the sessions were revoked and committed. This process's own sockets close
    even while Redis is down; the other processes' then close when their access token expires.
    """
    sessions = list(session_ids)
    if not sessions:
        return
    if HUB in app:
        app[HUB].close_sessions(sessions)
    try:
        order = json_dumps({"close_sessions": [str(session) for session in sessions]}).decode()
        await app[REDIS].publish(app[CHANNELS].control, order)
    except RedisError:
        log.warning("could not ask the web processes to close the sockets of %d ended session(s)", len(sessions))
