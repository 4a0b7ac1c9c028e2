"""Redis: the redis.asyncio client and the arq pool, both from one URL.

Both connect lazily, so the web process starts (and reports the outage on
/health/deep) while Redis is down.
"""

from __future__ import annotations

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import Redis


def connect_redis(url: str) -> Redis:
    return Redis.from_url(url, decode_responses=True, health_check_interval=30)


def arq_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


def connect_arq(url: str) -> ArqRedis:
    return ArqRedis.from_url(url)
