"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import swagger_ui
from aiohttp import web

from veza import db, health, storage
from veza.auth import routes as auth_routes
from veza.auth.revocation import RedisBypass
from veza.cloud import routes as cloud_routes
from veza.constants import API_PREFIX
from veza.http import json_dumps
from veza.keys import (
    ARQ,
    CATALOG_CACHE,
    DB,
    METRICS,
    REDIS,
    REDIS_BYPASS,
    REDIS_PUBSUB,
    RTMP_HEALTH,
    SETTINGS,
    VIEWER_EVENTS,
)
from veza.live import routes as live_routes
from veza.live.service import ViewerEvents
from veza.marketplace import routes as marketplace_routes
from veza.marketplace.cache import PageCache
from veza.metrics import Metrics
from veza.middlewares import MIDDLEWARES
from veza.notifications import routes as notifications_routes
from veza.openapi import build_spec
from veza.realtime import routes as realtime_routes
from veza.redis import connect_arq, connect_pubsub, connect_redis
from veza.settings import Settings
from veza.tags import routes as tags_routes
from veza.tasks import TASKS, Tasks, tasks_ctx
from veza.users import routes as users_routes

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
SWAGGER_UI_DIR = Path(swagger_ui.__file__).parent / "static"  # Swagger UI 5 (OpenAPI 3.1), no CDN

# Each domain's RouteTableDef, mounted under /api/v1.
ROUTE_TABLES: list[web.RouteTableDef] = [
    health.routes,
    auth_routes.routes,
    users_routes.routes,
    realtime_routes.routes,
    notifications_routes.routes,
    live_routes.routes,
    storage.routes,
    cloud_routes.routes,
    marketplace_routes.routes,
    tags_routes.routes,
]
# Swagger UI loads its own scripts and styles and inlines some styles and images.
DOCS_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
LEGACY_ROOT_PATHS = {"/health", "/health/deep", "/healthz", "/readyz", "/metrics"}


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


def create_base_app(settings: Settings) -> web.Application:
    """The resources alone (database, Redis, arq, storage); workers run on this too."""
    # Request lines up to 16 KiB reach the app (and get a 422 with the envelope when too long for a
    # route) instead of aiohttp's plain-text 400 at 8 KiB.
    app = web.Application(client_max_size=settings.max_body_bytes, handler_args={"max_line_size": 16384})
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[TASKS] = Tasks()
    app.cleanup_ctx.extend([database_ctx, redis_ctx, arq_ctx, storage.storage_ctx, tasks_ctx])
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


def add_routes(app: web.Application, table: Iterable[Any], prefix: str = "") -> None:
    for route in table:
        app.router.add_route(route.method, prefix + route.path, route.handler, **route.kwargs)


async def cancel_viewer_events(app: web.Application) -> None:
    app[VIEWER_EVENTS].cancel()


def create_app(settings: Settings) -> web.Application:
    app = create_base_app(settings)
    app.middlewares.extend(MIDDLEWARES)
    app.cleanup_ctx.append(realtime_routes.hub_ctx)
    app.on_shutdown.append(realtime_routes.close_sockets_on_shutdown)
    app[VIEWER_EVENTS] = ViewerEvents(app)
    app.on_cleanup.append(cancel_viewer_events)
    app[RTMP_HEALTH] = {}
    app[REDIS_BYPASS] = RedisBypass()
    app[CATALOG_CACHE] = PageCache(settings.catalog_cache_seconds, tasks=app[TASKS])
    for table in ROUTE_TABLES:
        add_routes(app, table, API_PREFIX)
    for route in health.routes:
        if route.path in LEGACY_ROOT_PATHS:
            app.router.add_get(route.path, health.deprecated(route.handler), allow_head=False)
    add_docs_routes(app)
    return app


def add_docs_routes(app: web.Application) -> None:
    spec_cache: dict[str, bytes] = {}

    async def openapi_json(request: web.Request) -> web.Response:
        """The OpenAPI 3.1 document of this API."""
        if "spec" not in spec_cache:
            spec_cache["spec"] = json_dumps(build_spec(request.app))
        return web.Response(body=spec_cache["spec"], content_type="application/json")

    async def docs_page(request: web.Request) -> web.FileResponse:
        """Swagger UI over the OpenAPI document."""
        return web.FileResponse(STATIC_DIR / "docs.html", headers={"Content-Security-Policy": DOCS_CSP})

    app.router.add_get(f"{API_PREFIX}/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs_page)
    app.router.add_static("/api/docs/assets", SWAGGER_UI_DIR)
    app.router.add_static("/api/docs/static", STATIC_DIR)
