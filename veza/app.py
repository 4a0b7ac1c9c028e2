"""The application factory."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import swagger_ui
from aiohttp import web

from veza import health
from veza.auth import routes as auth_routes
from veza.auth.revocation import RedisBypass
from veza.cloud import routes as cloud_routes
from veza.constants import API_PREFIX
from veza.gear import document_routes as gear_document_routes
from veza.gear import routes as gear_routes
from veza.http import ACCESS, json_dumps
from veza.keys import CATALOG_CACHE, REDIS_BYPASS, RTMP_HEALTH, TASKS, VIEWER_EVENTS
from veza.live import routes as live_routes
from veza.live.service import ViewerEvents
from veza.marketplace import asset_routes, invoice_routes, order_routes, review_routes
from veza.marketplace import routes as marketplace_routes
from veza.marketplace.cache import PageCache
from veza.notifications import routes as notifications_routes
from veza.openapi import build_spec
from veza.payments import admin_routes as payments_admin_routes
from veza.payments import routes as payments_routes
from veza.payments import seller_routes
from veza.realtime import routes as realtime_routes
from veza.resources import create_base_app
from veza.settings import Settings
from veza.storage import routes as storage_routes
from veza.tags import routes as tags_routes
from veza.users import routes as users_routes
from veza.webclient import add_client_routes

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
    storage_routes.routes,
    cloud_routes.routes,
    marketplace_routes.routes,
    review_routes.routes,
    asset_routes.routes,
    order_routes.routes,
    invoice_routes.routes,
    payments_routes.routes,
    seller_routes.routes,
    payments_admin_routes.routes,
    tags_routes.routes,
    gear_routes.routes,
    gear_document_routes.routes,
]
# Swagger UI loads its own scripts and styles and inlines some styles and images.
DOCS_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
LEGACY_ROOT_PATHS = {"/health", "/health/deep", "/healthz", "/readyz", "/metrics"}


def add_routes(app: web.Application, table: Iterable[Any], prefix: str = "") -> None:
    """Each path's routes one after the other, so that aiohttp keeps one resource per path: it matches
    a request against resources in turn, and a path whose routes were split over several cost a
    match more for each."""
    routes = list(table)
    first_seen: dict[str, int] = {}
    for route in routes:
        first_seen.setdefault(route.path, len(first_seen))
    for route in sorted(routes, key=lambda route: first_seen[route.path]):
        app.router.add_route(route.method, prefix + route.path, route.handler, **route.kwargs)


async def cancel_viewer_events(app: web.Application) -> None:
    app[VIEWER_EVENTS].cancel()


def create_app(settings: Settings) -> web.Application:
    app = create_base_app(settings)
    app.cleanup_ctx.append(realtime_routes.hub_ctx)
    app.on_shutdown.append(realtime_routes.close_sockets_on_shutdown)
    app[VIEWER_EVENTS] = ViewerEvents(app)
    app.on_cleanup.append(cancel_viewer_events)
    app[RTMP_HEALTH] = {}
    app[REDIS_BYPASS] = RedisBypass()
    app[CATALOG_CACHE] = PageCache(settings.catalog_cache_seconds, tasks=app[TASKS])
    add_routes(app, itertools.chain(*ROUTE_TABLES), API_PREFIX)
    for route in health.routes:
        if route.path in LEGACY_ROOT_PATHS:
            app.router.add_get(route.path, health.deprecated(route.handler), allow_head=False)
    add_client_routes(app)
    refuse_undeclared_routes(app)
    add_docs_routes(app)
    return app


def refuse_undeclared_routes(app: web.Application) -> None:
    """Every API route says who may call it (`endpoint(auth=...)`): one that does not is a bug, caught at start."""
    undeclared = [
        f"{route.method} {route.resource.canonical}"
        for route in app.router.routes()
        if route.method != "HEAD" and getattr(getattr(route.handler, "endpoint", None), "auth", None) not in ACCESS
    ]
    if undeclared:
        raise RuntimeError(f"routes without an access declaration (endpoint(auth=...)): {', '.join(undeclared)}")


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
