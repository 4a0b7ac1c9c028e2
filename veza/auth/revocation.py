"""Whether an access token's session has been revoked (logout, password or email change, refresh-token reuse).

PostgreSQL is the record (`sessions.revoked_at`). Redis caches each session's
answer, so that the check on every request is one GET: a revoked session for
as long as any of its access tokens can live, a live one for
`session_cache_seconds` only. That short life bounds how long a revocation can
go unseen when its cache write failed; a Redis restarted empty just sends the
next checks to PostgreSQL, and without Redis every check asks PostgreSQL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from uuid import UUID

from aiohttp import web
from redis.exceptions import RedisError

from veza.auth import queries
from veza.auth.tokens import AuthUser
from veza.constants import SESSION_CACHE_PREFIX
from veza.db import Transaction
from veza.errors import Unavailable
from veza.keys import DB, REDIS, REDIS_BYPASS, SETTINGS
from veza.realtime.publish import close_sessions

log = logging.getLogger(__name__)

REVOKED, LIVE = "revoked", "live"
REDIS_BYPASS_SECONDS = 5.0


class RedisBypass:
    """Once Redis failed a session check, the next checks skip it for a few seconds and ask
    PostgreSQL alone: a frozen Redis costs one request its timeout, not every request."""

    def __init__(self, seconds: float = REDIS_BYPASS_SECONDS) -> None:
        self.seconds = seconds
        self.until = 0.0

    @property
    def active(self) -> bool:
        return time.monotonic() < self.until

    def trip(self) -> None:
        self.until = time.monotonic() + self.seconds


def cache_key(session_id: UUID) -> str:
    return f"{SESSION_CACHE_PREFIX}{session_id}"


async def is_revoked(app: web.Application, user: AuthUser) -> bool:
    """The one check of an access token's session, for HTTP requests and WebSockets alike."""
    redis, settings, key, bypass = app[REDIS], app[SETTINGS], cache_key(user.sid), app[REDIS_BYPASS]
    if bypass.active:
        return await queries.session_revoked(app[DB], user.sid)
    try:
        cached = await redis.get(key)
    except RedisError:
        # Authentication does not depend on Redis: the database answers instead.
        bypass.trip()
        return await queries.session_revoked(app[DB], user.sid)
    if cached is not None:
        return cached == REVOKED
    revoked = await queries.session_revoked(app[DB], user.sid)
    ttl = settings.access_token_ttl if revoked else settings.session_cache_seconds
    try:
        # NX: a revocation cached since the database answered must not be overwritten by this older answer.
        await redis.set(key, REVOKED if revoked else LIVE, ex=ttl, nx=True)
    except RedisError:
        pass  # the cache is only a cache
    return revoked


async def cache_revocations(app: web.Application, session_ids: list[UUID]) -> None:
    """Cache sessions as revoked, overwriting a cached "live"; raises RedisError."""
    if not session_ids:
        return
    async with app[REDIS].pipeline(transaction=False) as pipe:
        for session_id in session_ids:
            pipe.set(cache_key(session_id), REVOKED, ex=app[SETTINGS].access_token_ttl)
        await pipe.execute()


async def revoke_sessions(app: web.Application, session_ids: Iterable[UUID]) -> None:
    """Make sessions revoked in the database revoked everywhere at once: ``tx.after_commit(revoke_sessions, ...)``.

    Best effort: should Redis fail, a cached "live" answer lasts up to `session_cache_seconds`.
    """
    session_ids = list(session_ids)
    try:
        await cache_revocations(app, session_ids)
    except RedisError:
        log.warning(
            "could not cache the revocation of %d session(s); they are revoked once their cached state expires",
            len(session_ids),
        )
    await close_sessions(app, session_ids)


async def revoke_sessions_in(app: web.Application, tx: Transaction, session_ids: list[UUID]) -> None:
    """Revoke sessions as part of the change in `tx`, so that its commit means they are refused from then on.

    The cache is written before the commit (a check racing it cannot cache "live" over it: its SET is NX);
    without Redis the change fails (503) rather than leave a cached "live" answer standing. Should the
    commit itself fail, the sessions stay refused until their cached state expires: the safe side.
    Sockets are closed after the commit (a new one is refused by the cached revocation).
    """
    try:
        await cache_revocations(app, session_ids)
    except RedisError as exc:
        raise Unavailable("Sessions cannot be ended right now; nothing was changed, try again shortly") from exc
    tx.after_commit(close_sessions, app, session_ids)
