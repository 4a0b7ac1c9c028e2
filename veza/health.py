"""Health: liveness, readiness, the deep check, and /metrics."""

from __future__ import annotations

import asyncio
import functools
import hmac
import shutil
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from veza.constants import WORKER_HEARTBEAT_KEY
from veza.errors import Forbidden, Unauthorized
from veza.http import endpoint, error_body, json_response, ok
from veza.keys import DB, METRICS, REDIS, REQUEST_ID, SETTINGS, USER
from veza.metrics import CONTENT_TYPE
from veza.storage import check_storage
from veza.storage.reconcile import last_reconciliation

routes = web.RouteTableDef()

MIN_FREE_DISK_GB = 1.0
WORKER_STALE_AFTER = 180  # seconds; the worker beats every minute

CheckResult = dict[str, Any]


class Status(BaseModel):
    status: str


class Check(BaseModel):
    status: Literal["ok", "warning", "error"]
    details: dict[str, Any] | None = None


class ConfigSummary(BaseModel):
    jwt_secret_set: bool
    stripe_connect_enabled: bool
    platform_fee_rate: float
    transfer_retry_enabled: bool


class DeepHealth(BaseModel):
    """The status for everyone; the rest only for an admin's token or METRICS_TOKEN."""

    status: Literal["healthy", "degraded", "unhealthy"]
    timestamp: datetime | None = None
    checks: dict[str, Check] | None = None
    config: ConfigSummary | None = None


async def check_database(app: web.Application) -> CheckResult:
    await app[DB].fetch_val("SELECT 1")
    return {"status": "ok"}


async def check_redis(app: web.Application) -> CheckResult:
    await app[REDIS].ping()
    return {"status": "ok"}


async def check_disk(app: web.Application) -> CheckResult:
    data_dir = app[SETTINGS].data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    free_gb = round(shutil.disk_usage(data_dir).free / 1024**3, 1)
    return {"status": "ok" if free_gb >= MIN_FREE_DISK_GB else "warning", "details": {"free_gb": free_gb}}


async def check_worker(app: web.Application) -> CheckResult:
    beat = await app[REDIS].get(WORKER_HEARTBEAT_KEY)
    if beat is None:
        return {"status": "warning", "details": {"last_seen": None}}
    age = time.time() - float(beat)
    status = "ok" if age < WORKER_STALE_AFTER else "warning"
    last_seen = datetime.fromtimestamp(float(beat), UTC)
    return {"status": status, "details": {"last_seen": last_seen, "age_seconds": round(age)}}


# Critical checks make the service unhealthy when they fail; the others only degrade it.
CHECKS: dict[str, tuple[Callable[[web.Application], Awaitable[CheckResult]], bool]] = {
    "database": (check_database, True),
    "redis": (check_redis, True),
    "storage": (check_storage, False),
    "disk": (check_disk, False),
    "worker": (check_worker, False),
    "reconciliation": (last_reconciliation, False),
}


async def _bounded(app: web.Application, check) -> CheckResult:
    limit = app[SETTINGS].health_check_timeout
    try:
        return await asyncio.wait_for(check(app), limit)
    except TimeoutError:
        return {"status": "error", "details": {"error": f"no answer within {limit}s"}}
    except Exception as exc:  # a dependency's failure is the check's answer, not ours
        return {"status": "error", "details": {"error": type(exc).__name__}}


async def run_checks(app: web.Application) -> tuple[str, dict[str, CheckResult]]:
    names = list(CHECKS)
    results = await asyncio.gather(*(_bounded(app, CHECKS[n][0]) for n in names))
    checks = dict(zip(names, results, strict=True))
    if any(checks[n]["status"] == "error" for n in names if CHECKS[n][1]):
        return "unhealthy", checks
    if any(c["status"] != "ok" for c in checks.values()):
        return "degraded", checks
    return "healthy", checks


def may_see_details(request: web.Request) -> bool:
    """An admin (by access token), or monitoring presenting METRICS_TOKEN as its bearer token."""
    user = request.get(USER)
    if user is not None and user.role == "admin":
        return True
    expected = request.app[SETTINGS].metrics_token
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return (
        bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())
    )


def deprecated(handler):
    """The same handler at the legacy root path, flagged with `Deprecation: true`."""

    @functools.wraps(handler)
    async def legacy(request: web.Request) -> web.StreamResponse:
        response = await handler(request)
        response.headers["Deprecation"] = "true"
        response.headers["Link"] = f'</api/v1{request.path}>; rel="successor-version"'
        return response

    legacy.deprecated = True  # type: ignore[attr-defined]
    return legacy


@routes.get("/health")
@endpoint("Simple health check", response=Status, tags=["health"], auth="public")
async def health(request: web.Request) -> web.Response:
    return ok({"status": "ok"})


@routes.get("/health/deep")
@endpoint(
    "Deep health check: the status; database, Redis, storage, disk, worker and config details "
    "for an admin's token or METRICS_TOKEN",
    response=DeepHealth,
    tags=["health"],
    errors=[503],
    auth="public",
)
async def health_deep(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    status, checks = await run_checks(request.app)
    data: dict[str, Any] = {"status": status}
    if may_see_details(request):
        data["timestamp"] = datetime.now(UTC)
        data["checks"] = checks
        data["config"] = {
            "jwt_secret_set": "jwt_secret" not in settings.generated_secrets,
            "stripe_connect_enabled": settings.stripe_connect_enabled,
            "platform_fee_rate": settings.platform_fee_rate,
            "transfer_retry_enabled": settings.transfer_retry_enabled,
        }
    if status == "unhealthy":
        body = error_body("unhealthy", "A required dependency is down", [], request.get(REQUEST_ID))
        return json_response({**body, "data": data}, status=503)
    return ok(data)


@routes.get("/healthz")
@endpoint("Liveness probe", response=Status, tags=["health"], auth="public")
async def healthz(request: web.Request) -> web.Response:
    return ok({"status": "alive"})


@routes.get("/readyz")
@endpoint(
    "Readiness probe: ready, degraded or not_ready", response=Status, tags=["health"], errors=[503], auth="public"
)
async def readyz(request: web.Request) -> web.Response:
    status, _ = await run_checks(request.app)
    readiness = {"healthy": "ready", "degraded": "degraded", "unhealthy": "not_ready"}[status]
    if readiness == "not_ready":
        body = error_body("not_ready", "Not ready", [], request.get(REQUEST_ID))
        return json_response({**body, "data": {"status": readiness}}, status=503)
    return ok({"status": readiness})


@routes.get("/metrics")
@endpoint(
    "Prometheus metrics (text exposition format), for an admin's token or METRICS_TOKEN",
    tags=["health"],
    content_type="text/plain",
    errors=[401, 403],
    auth="credential",
)
async def metrics(request: web.Request) -> web.Response:
    if not may_see_details(request):
        if request.get(USER) is not None:
            raise Forbidden("Metrics need the admin role or METRICS_TOKEN")
        raise Unauthorized(
            "Metrics need an admin's access token or METRICS_TOKEN", headers={"WWW-Authenticate": "Bearer"}
        )
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
