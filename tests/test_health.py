import time

import pytest

from veza.app import create_app
from veza.constants import WORKER_HEARTBEAT_KEY
from veza.keys import REDIS


async def test_health_answers_as_the_reference(client):
    resp = await client.get("/api/v1/health")
    assert resp.status == 200
    assert await resp.json() == {"success": True, "data": {"status": "ok"}}


async def test_deep_health_has_the_reference_shape(client):
    await client.app[REDIS].set(WORKER_HEARTBEAT_KEY, time.time())
    resp = await client.get("/api/v1/health/deep")
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
    resp = await client.get("/api/v1/health/deep")
    body = await resp.json()
    assert resp.status == 200
    assert body["data"]["status"] == "degraded"
    assert body["data"]["checks"]["worker"]["status"] == "warning"


async def test_dead_redis_makes_deep_health_503_quickly(aiohttp_client, settings):
    # Nothing listens on port 1: the app still starts, and the check fails fast.
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "health_check_timeout": 0.5})
    client = await aiohttp_client(create_app(broken))
    resp = await client.get("/api/v1/health/deep")
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
    resp = await client.get(path)
    assert resp.status == 200
    assert resp.headers["Deprecation"] == "true"
    modern = await client.get(f"/api/v1{path}")
    assert modern.status == 200
    assert "Deprecation" not in modern.headers


async def test_metrics_count_requests_by_route_template(client):
    await client.get("/api/v1/health")
    await client.get("/api/v1/no/such/route")
    resp = await client.get("/api/v1/metrics")
    text = await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert 'veza_http_request_duration_seconds_count{method="GET",route="/api/v1/health",status="200"} 1.0' in text
    assert 'veza_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'veza_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/health"' in text
