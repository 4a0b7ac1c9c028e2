import time

import pytest

from tests.factories import bearer, make_user
from veza.app import create_app
from veza.constants import WORKER_HEARTBEAT_KEY
from veza.keys import REDIS, SETTINGS


def monitoring(client) -> dict[str, str]:
    """What a scraper sends: METRICS_TOKEN as its bearer token."""
    return bearer(client.app[SETTINGS].metrics_token)


async def test_health_answers_as_the_reference(client):
    resp = await client.get("/api/v1/health")
    assert resp.status == 200
    assert await resp.json() == {"success": True, "data": {"status": "ok"}}


async def test_deep_health_has_the_reference_shape(client):
    await client.app[REDIS].set(WORKER_HEARTBEAT_KEY, time.time())
    resp = await client.get("/api/v1/health/deep", headers=monitoring(client))
    assert resp.status == 200
    body = await resp.json()
    data = body["data"]
    assert body["success"] is True
    assert data["status"] == "healthy"
    assert data["timestamp"].endswith("Z")
    assert data["checks"]["database"]["status"] == "ok"
    assert data["checks"]["redis"]["status"] == "ok"
    assert data["checks"]["storage"] == {"status": "ok", "details": {"backend": "local"}}
    assert data["checks"]["disk"]["status"] in ("ok", "warning")
    assert isinstance(data["checks"]["disk"]["details"]["free_gb"], float)
    assert data["config"] == {
        "jwt_secret_set": False,
        "stripe_connect_enabled": False,
        "platform_fee_rate": 0.10,
        "transfer_retry_enabled": True,
    }


async def test_deep_health_is_degraded_without_a_worker(client):
    resp = await client.get("/api/v1/health/deep", headers=monitoring(client))
    body = await resp.json()
    assert resp.status == 200
    assert body["data"]["status"] == "degraded"
    assert body["data"]["checks"]["worker"]["status"] == "warning"


async def test_dead_redis_makes_deep_health_503_quickly(aiohttp_client, settings):
    # Nothing listens on port 1: the app still starts, and the check fails fast.
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "health_check_timeout": 0.5})
    client = await aiohttp_client(create_app(broken))
    resp = await client.get("/api/v1/health/deep", headers=monitoring(client))
    assert resp.status == 503
    body = await resp.json()
    assert body["success"] is False
    assert body["code"] == "unhealthy"
    assert body["data"]["checks"]["redis"]["status"] == "error"
    assert body["data"]["checks"]["database"]["status"] == "ok"
    ready = await client.get("/api/v1/readyz")
    assert ready.status == 503
    assert (await ready.json())["data"]["status"] == "not_ready"


async def test_liveness_and_readiness(client):
    resp = await client.get("/api/v1/healthz")
    assert (await resp.json())["data"]["status"] == "alive"
    resp = await client.get("/api/v1/readyz")
    assert resp.status == 200
    assert (await resp.json())["data"]["status"] in ("ready", "degraded")


@pytest.mark.parametrize("path", ["/health", "/health/deep", "/healthz", "/readyz", "/metrics"])
async def test_legacy_root_routes_are_deprecated(client, path):
    resp = await client.get(path, headers=monitoring(client))
    assert resp.status == 200
    assert resp.headers["Deprecation"] == "true"
    modern = await client.get(f"/api/v1{path}", headers=monitoring(client))
    assert modern.status == 200
    assert "Deprecation" not in modern.headers


async def test_metrics_count_requests_by_route_template(client):
    await client.get("/api/v1/health")
    await client.get("/api/v1/no/such/route")
    resp = await client.get("/api/v1/metrics", headers=monitoring(client))
    text = await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert 'veza_http_request_duration_seconds_count{method="GET",route="/api/v1/health",status="200"} 1.0' in text
    assert 'veza_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'veza_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/health"' in text


@pytest.mark.parametrize("path", ["/api/v1/health/deep", "/health/deep"])
async def test_anonymous_callers_get_the_deep_status_only(client, path):
    await client.app[REDIS].set(WORKER_HEARTBEAT_KEY, time.time())
    for headers in ({}, bearer("not-the-token"), bearer(client.app[SETTINGS].metrics_token + "x")):
        resp = await client.get(path, headers=headers)
        assert resp.status == 200
        assert await resp.json() == {"success": True, "data": {"status": "healthy"}}
    user = await make_user(client)
    assert (await (await client.get(path, headers=user["headers"])).json())["data"] == {"status": "healthy"}


async def test_a_dead_dependency_shows_anonymous_callers_the_status_only(aiohttp_client, settings):
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "health_check_timeout": 0.5})
    client = await aiohttp_client(create_app(broken))
    resp = await client.get("/api/v1/health/deep")
    assert resp.status == 503
    body = await resp.json()
    assert body["code"] == "unhealthy"
    assert body["data"] == {"status": "unhealthy"}


async def test_admins_and_metrics_token_get_the_deep_details(client):
    admin = await make_user(client, role="admin")
    for headers in (admin["headers"], monitoring(client)):
        data = (await (await client.get("/api/v1/health/deep", headers=headers)).json())["data"]
        assert set(data) == {"status", "timestamp", "checks", "config"}
        assert "free_gb" in data["checks"]["disk"]["details"]


@pytest.mark.parametrize("path", ["/api/v1/metrics", "/metrics"])
async def test_metrics_need_an_admin_or_the_metrics_token(client, path):
    resp = await client.get(path)
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert (await resp.json())["code"] == "unauthorized"
    resp = await client.get(path, headers=bearer("not-the-token"))
    assert resp.status == 401
    user = await make_user(client, role="seller")
    resp = await client.get(path, headers=user["headers"])
    assert resp.status == 403
    assert (await resp.json())["code"] == "forbidden"
    admin = await make_user(client, role="admin")
    for headers in (admin["headers"], monitoring(client)):
        resp = await client.get(path, headers=headers)
        assert resp.status == 200
        assert "veza_http_request_duration_seconds" in await resp.text()


def test_the_openapi_document_declares_who_sees_what(app):
    from veza.openapi import build_spec

    spec = build_spec(app)
    assert spec["components"]["schemas"]["DeepHealth"]["required"] == ["status"]
    assert {"200", "401", "403"} <= set(spec["paths"]["/api/v1/metrics"]["get"]["responses"])
