"""Every typed key the application and its requests carry, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from arq.connections import ArqRedis
    from redis.asyncio import Redis

    from veza.db import Database
    from veza.metrics import Metrics
    from veza.settings import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
DB: web.AppKey[Database] = web.AppKey("db")
REDIS: web.AppKey[Redis] = web.AppKey("redis")
ARQ: web.AppKey[ArqRedis] = web.AppKey("arq")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")

REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id")
USER: web.RequestKey[Any] = web.RequestKey("user")
