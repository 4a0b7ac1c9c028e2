"""The resources alone (database, Redis, arq, storage): what the web app, the worker and the CLI share.

Nothing here imports a route table: a worker builds these without the web application.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from veza import db
from veza.auth.passwords import Passwords
from veza.keys import (
    ARQ,
    CHANNELS,
    CONNECT_GATEWAY,
    DB,
    INVOICE_RENDERING,
    METRICS,
    PASSWORDS,
    PAYMENT_GATEWAY,
    REDIS,
    REDIS_PUBSUB,
    SETTINGS,
    TASKS,
)
from veza.metrics import Metrics
from veza.payments import sandbox
from veza.payments.gateways import build_connect_gateway, build_gateway
from veza.realtime.publish import Channels
from veza.redis import connect_arq, connect_pubsub, connect_redis, redis_db
from veza.settings import Settings
from veza.storage import storage_ctx
from veza.tasks import Tasks, tasks_ctx


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[DB] = await db.connect(
        settings.database_url,
        settings.db_pool_min,
        settings.db_pool_max,
        connect_timeout=settings.db_connect_timeout,
        statement_timeout=settings.db_statement_timeout,
    )
    yield
    await app[DB].close()


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    app[REDIS] = connect_redis(app[SETTINGS])
    app[REDIS_PUBSUB] = connect_pubsub(app[SETTINGS])
    yield
    await app[REDIS].aclose()
    await app[REDIS_PUBSUB].aclose()


async def arq_ctx(app: web.Application) -> AsyncIterator[None]:
    app[ARQ] = connect_arq(app[SETTINGS])
    yield
    await app[ARQ].aclose()


async def payment_gateway_ctx(app: web.Application) -> AsyncIterator[None]:
    app[PAYMENT_GATEWAY] = build_gateway(app[SETTINGS], app[DB], functools.partial(sandbox.queue_delivery, app))
    app[CONNECT_GATEWAY] = build_connect_gateway(app[SETTINGS], app[DB])
    yield
    await app[PAYMENT_GATEWAY].close()
    await app[CONNECT_GATEWAY].close()


def create_base_app(settings: Settings) -> web.Application:
    """The resources alone (database, Redis, arq, storage); workers run on this too."""
    # Request lines up to 16 KiB reach the app (and get a 422 with the envelope when too long for a
    # route) instead of aiohttp's plain-text 400 at 8 KiB.
    app = web.Application(client_max_size=settings.max_body_bytes, handler_args={"max_line_size": 16384})
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[TASKS] = Tasks()
    app[PASSWORDS] = Passwords.from_settings(settings)
    app[INVOICE_RENDERING] = asyncio.Lock()
    app[CHANNELS] = Channels(redis_db(settings))
    # Last in, first out: background work drains before the database and Redis close.
    app.cleanup_ctx.extend([database_ctx, redis_ctx, arq_ctx, payment_gateway_ctx, storage_ctx, tasks_ctx])
    return app


@asynccontextmanager
async def running_resources(settings: Settings) -> AsyncIterator[web.Application]:
    """The base app with its resources open, for work outside a web process (worker, CLI)."""
    app = create_base_app(settings)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()  # runs the cleanup contexts: database, Redis, arq pools
    try:
        yield app
    finally:
        await runner.cleanup()
