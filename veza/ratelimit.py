"""Rate limits and failure counters in Redis.

A window opens at a key's first hit and lasts `per` seconds, so a burst is
never split across two windows. (SET NX EX then INCR also works on Redis 6,
which the embedded development server runs.)
"""

from __future__ import annotations

import ipaddress

from aiohttp import web
from redis.asyncio import Redis

from veza.constants import RATE_LIMIT_PREFIX
from veza.errors import RateLimited
from veza.keys import SETTINGS


async def count_hit(redis: Redis, key: str, per: int) -> tuple[int, int]:
    """Count one hit on `key`; return (hits in the current window, seconds left in it)."""
    async with redis.pipeline(transaction=True) as pipe:
        _, hits, ttl = await pipe.set(key, 0, ex=per, nx=True).incr(key).ttl(key).execute()
    return hits, max(ttl, 1)


async def limit(redis: Redis, name: str, key: str, *, max_hits: int, per: int) -> None:
    """Raise RateLimited (429 with Retry-After) past max_hits of `name` by `key` within `per` seconds."""
    hits, seconds_left = await count_hit(redis, f"{RATE_LIMIT_PREFIX}{name}:{key}", per)
    if hits > max_hits:
        raise RateLimited(seconds_left, "Too many requests, slow down")


def client_ip(request: web.Request) -> str:
    """The client's address; behind a trusted proxy, the one it appended to X-Forwarded-For.

    Anything there that is not an IP address (the proxy always appends one) is ignored: it would
    otherwise become a Redis key, unbounded and possibly not even encodable.
    """
    if request.app[SETTINGS].trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        try:
            return str(ipaddress.ip_address(forwarded.rpartition(",")[2].strip()))
        except ValueError:
            pass
    return request.remote or "unknown"
