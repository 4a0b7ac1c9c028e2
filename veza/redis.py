"""Redis: the redis.asyncio client and the arq pool, both from the settings' URL and timeouts.

Both connect lazily, so the web process starts (and reports the outage on
/health/deep) while Redis is down. Every command has a deadline
(REDIS_TIMEOUT): a frozen server costs a request seconds, not forever.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlsplit

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import Redis
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from veza.settings import Settings


def redis_unreachable(exc: BaseException) -> bool:
    """Whether `exc` means Redis is down, unreachable, too slow, or a replica during a failover."""
    return isinstance(exc, RedisConnectionError | RedisTimeoutError | ReadOnlyError)


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options shared by every client (web, pub/sub, arq, worker)."""
    options: dict[str, Any] = {
        "socket_connect_timeout": settings.redis_connect_timeout,
        "socket_timeout": settings.redis_timeout,
    }
    if urlsplit(settings.redis_url).scheme == "rediss":
        options["ssl_cert_reqs"] = settings.redis_ssl_cert_reqs
    return options


def redis_db(settings: Settings) -> int:
    """The db number the URL selects (a path of /N or a ?db=N query), 0 by default."""
    return int(parse_url(settings.redis_url).get("db", 0))


def connect_redis(settings: Settings) -> Redis:
    return Redis.from_url(
        settings.redis_url, decode_responses=True, health_check_interval=30, **client_options(settings)
    )


def connect_pubsub(settings: Settings) -> Redis:
    """For the real-time hub's subscription: a subscriber waits for messages as long as there are
    none, so its reads have no deadline (its connect has one)."""
    options = client_options(settings) | {"socket_timeout": None}
    return Redis.from_url(settings.redis_url, decode_responses=True, health_check_interval=30, **options)


def connect_arq(settings: Settings) -> ArqRedis:
    return ArqRedis.from_url(settings.redis_url, **client_options(settings))


def arq_settings(settings: Settings) -> RedisSettings:
    """arq's own settings (arq.connections.create_pool), with the same connect timeout and TLS check."""
    return dataclasses.replace(
        RedisSettings.from_dsn(settings.redis_url),
        conn_timeout=settings.redis_connect_timeout,
        ssl_cert_reqs=settings.redis_ssl_cert_reqs,
    )
