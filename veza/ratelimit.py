"""Fixed-window rate limits and counters in Redis."""

from __future__ import annotations

import time

from aiohttp import web
from redis.asyncio import Redis

from veza.errors import RateLimited
from veza.keys import SETTINGS


async def limit(redis: Redis, name: str, key: str, *, max_hits: int, per: int) -> None:
    """Count a hit of `key` against `name`; raise RateLimited past max_hits in the current window of `per` seconds."""
    window = int(time.time()) // per
    redis_key = f"veza:rl:{name}:{key}:{window}"
    async with redis.pipeline(transaction=True) as pipe:
        hits, _ = await pipe.incr(redis_key).expire(redis_key, per + 1).execute()
    if hits > max_hits:
        raise RateLimited(per - int(time.time()) % per, "Too many requests, slow down")


def client_ip(request: web.Request) -> str:
    """The client's address; behind a trusted proxy, the one it appended to X-Forwarded-For."""
    if request.app[SETTINGS].trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        last = forwarded.rpartition(",")[2].strip()
        if last:
            return last
    return request.remote or "unknown"
