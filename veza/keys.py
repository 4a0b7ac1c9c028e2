"""Every typed key the application and its requests carry, in one place."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from arq.connections import ArqRedis
    from redis.asyncio import Redis

    from veza.auth.passwords import Passwords
    from veza.auth.revocation import RedisBypass
    from veza.auth.tokens import AuthUser
    from veza.db import Database
    from veza.live.service import ViewerEvents
    from veza.marketplace.cache import PageCache
    from veza.metrics import Metrics
    from veza.payments.connect import ConnectGateway
    from veza.payments.gateway import PaymentGateway
    from veza.realtime.hub import Hub
    from veza.realtime.publish import Channels
    from veza.settings import Settings
    from veza.storage import Storage
    from veza.tasks import Tasks

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
DB: web.AppKey[Database] = web.AppKey("db")
REDIS: web.AppKey[Redis] = web.AppKey("redis")
ARQ: web.AppKey[ArqRedis] = web.AppKey("arq")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
STORAGE: web.AppKey[Storage] = web.AppKey("storage")
HUB: web.AppKey[Hub] = web.AppKey("hub")
CHANNELS: web.AppKey[Channels] = web.AppKey("channels")  # Redis names of the real-time channels
VIEWER_EVENTS: web.AppKey[ViewerEvents] = web.AppKey("viewer_events")
CATALOG_CACHE: web.AppKey[PageCache] = web.AppKey("catalog_cache")
PASSWORDS: web.AppKey[Passwords] = web.AppKey("passwords")  # argon2id at the configured cost
# One invoice renders at a time (veza.marketplace.invoices): the others wait here, holding no thread.
INVOICE_RENDERING: web.AppKey[asyncio.Lock] = web.AppKey("invoice_rendering")
TASKS: web.AppKey[Tasks] = web.AppKey("tasks")  # work that outlives a request (veza.tasks)
RTMP_HEALTH: web.AppKey[dict] = web.AppKey("rtmp_health")  # the last probe of the RTMP server, cached
REDIS_BYPASS: web.AppKey[RedisBypass] = web.AppKey("redis_bypass")  # session checks skip a failing Redis
PAYMENT_GATEWAY: web.AppKey[PaymentGateway] = web.AppKey("payment_gateway")  # PAYMENT_GATEWAY's choice
CONNECT_GATEWAY: web.AppKey[ConnectGateway] = web.AppKey("connect_gateway")  # CONNECT_GATEWAY's (payouts)
REDIS_PUBSUB: web.AppKey[Redis] = web.AppKey("redis_pubsub")  # the hub's subscription: reads without a deadline

REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id")
USER: web.RequestKey[AuthUser] = web.RequestKey("user")
AUTH_ERROR: web.RequestKey[str] = web.RequestKey("auth_error")
