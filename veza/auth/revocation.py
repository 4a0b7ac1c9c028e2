"""Access tokens die with their session or on logout: both are remembered in Redis
for as long as such a token could still be unexpired."""

from __future__ import annotations

import time
from collections.abc import Iterable
from uuid import UUID

from redis.asyncio import Redis

from veza.auth.tokens import AuthUser


def _jti_key(jti: str) -> str:
    return f"veza:auth:denied-jti:{jti}"


def _session_key(session_id: UUID) -> str:
    return f"veza:auth:revoked-session:{session_id}"


async def deny_token(redis: Redis, user: AuthUser) -> None:
    ttl = user.exp - int(time.time())
    if ttl > 0:
        await redis.set(_jti_key(user.jti), 1, ex=ttl)


async def revoke_sessions(redis: Redis, session_ids: Iterable[UUID], access_token_ttl: int) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for session_id in session_ids:
            pipe.set(_session_key(session_id), 1, ex=access_token_ttl)
        await pipe.execute()


async def is_revoked(redis: Redis, user: AuthUser) -> bool:
    return await redis.exists(_jti_key(user.jti), _session_key(user.sid)) > 0
