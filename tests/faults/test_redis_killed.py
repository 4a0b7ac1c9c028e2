"""Redis killed under traffic and started again, with a real `veza serve` and `veza worker` on it.

While Redis is down, what needs it (login, registration) answers the 503 envelope and the rest keeps
answering 200 (the catalog, an authenticated route, /health); /health/deep and /readyz say so. Once it
is back (same port, empty), nothing is restarted: the web process's hub subscribes its channels again
and delivers, the worker takes jobs again, and its notification reaches a socket opened before the
outage.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import aiohttp
import pytest

from tests.factories import register, ws_receive, ws_subscribe
from tests.live.callbacks import callback, key_of
from tests.outage import wait_until

pytestmark = pytest.mark.slow

TIMEOUTS = {"redis_timeout": 0.5, "redis_connect_timeout": 0.5}
ALWAYS_UP = ("/api/v1/health", "/api/v1/marketplace/products", "/api/v1/users/me")
NEWCOMER = {"username": "newcomer", "email": "newcomer@example.com", "password": "Correct-Horse-Battery-9"}


@pytest.fixture
def app_settings(settings, redis_server, tmp_path):
    return settings.model_copy(
        update={"redis_url": redis_server.url, "data_dir": tmp_path / "data", "rtmp_callback_secret": "rtmp-secret"}
    )


async def get_json(http, path: str, **kwargs) -> tuple[int, dict]:
    async with http.get(path, **kwargs) as resp:
        return resp.status, await resp.json()


async def assert_unavailable(resp: aiohttp.ClientResponse) -> None:
    body = await resp.json()
    assert (resp.status, body["success"], body["code"]) == (503, False, "unavailable"), body
    assert body["request_id"] == resp.headers["X-Request-ID"]
    assert int(resp.headers["Retry-After"]) > 0


async def traffic(http, headers: dict, seen: Counter) -> None:
    """Requests that need no Redis, one after another until cancelled; every answer counted by status."""
    while True:
        for path in ALWAYS_UP:
            async with http.get(path, headers=headers) as resp:
                await resp.read()
                seen[(path, resp.status)] += 1


async def hub_online(http) -> bool:
    """Whether the web process's hub takes subscriptions again: it does once its new pub/sub connection has
    subscribed every channel its sockets follow (until then it refuses them as unavailable)."""
    async with http.ws_connect("/api/v1/ws") as probe:
        await probe.send_json({"type": "subscribe", "channel": "live"})
        reply = await ws_receive(probe)
        assert reply["type"] == "subscribed" or reply.get("code") == "unavailable", reply
        return reply["type"] == "subscribed"


async def readiness(http) -> tuple[int, str]:
    status, body = await get_json(http, "/api/v1/readyz")
    return status, body["data"]["status"]


async def test_redis_killed_and_restarted_under_traffic(http, web, worker, redis_server, app_settings):
    async def ready() -> bool:
        return await readiness(http) == (200, "ready")  # the worker's heartbeat included

    await wait_until(ready, timeout=30)
    user = await register(http)
    streamer = await register(http)
    stream = await key_of(http, streamer)
    ws = await http.ws_connect(f"/api/v1/ws?token={user['access_token']}")
    for channel in ("notifications", "live", f"live:{stream['stream_id']}"):
        await ws_subscribe(ws, channel)
    seen: Counter = Counter()
    load = asyncio.create_task(traffic(http, user["headers"], seen))
    try:
        await wait_until(lambda: sum(seen.values()) >= 30)
        redis_server.kill()

        login = {"email": user["user"]["email"], "password": user["password"]}
        async with http.post("/api/v1/auth/login", json=login) as resp:
            await assert_unavailable(resp)
        async with http.post("/api/v1/auth/register", json=NEWCOMER) as resp:
            await assert_unavailable(resp)
        metrics = {"Authorization": f"Bearer {app_settings.metrics_token}"}
        status, deep = await get_json(http, "/api/v1/health/deep", headers=metrics)
        assert (status, deep["data"]["status"]) == (503, "unhealthy")
        assert deep["data"]["checks"]["redis"]["status"] == "error"
        assert deep["data"]["checks"]["database"]["status"] == "ok"
        assert await readiness(http) == (503, "not_ready")
        during = sum(seen.values())
        await wait_until(lambda: sum(seen.values()) >= during + 30)  # the rest keeps answering

        redis_server.start()  # the same port, empty

        # Ready again: "ready", or "degraded" until the worker's next heartbeat (the restarted Redis is
        # empty; the worker, whose client may have ridden out the outage on its retries, beats every minute).
        async def answering() -> bool:
            return (await readiness(http))[0] == 200

        await wait_until(answering, timeout=30)
        await wait_until(lambda: hub_online(http), timeout=30)
        async with http.post("/api/v1/auth/login", json=login) as resp:
            assert resp.status == 200, await resp.text()
        after = sum(seen.values())
        await wait_until(lambda: sum(seen.values()) >= after + 30)
    finally:
        load.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await load
    assert {status for _, status in seen} == {200}, seen
    assert {path for path, _ in seen} == set(ALWAYS_UP)

    # Every channel of the socket opened before the outage delivers again: events from the web process...
    resp = await callback(http, "on_publish", stream["stream_key"], secret="rtmp-secret")
    assert resp.status in (301, 302), await resp.text()
    started = [await ws_receive(ws), await ws_receive(ws)]
    assert {(m["channel"], m["event"]) for m in started} == {
        ("live", "stream.started"),
        (f"live:{stream['stream_id']}", "stream.started"),
    }
    # ...and from the worker, which takes jobs again: the export's notification.
    async with http.post("/api/v1/users/me/export", headers=user["headers"]) as resp:
        assert resp.status == 202, await resp.text()
    message = await ws_receive(ws, timeout=30)
    assert (message["channel"], message["event"], message["data"]["type"]) == (
        "notifications",
        "notification.created",
        "export.ready",
    )
    await ws.close()

    assert (web.starts, worker.starts) == (1, 1)
    assert web.alive and worker.alive
    assert worker.stop() == 0, worker.log()
    assert web.stop() == 0, web.log()
    assert '"level":"error"' not in web.log() + worker.log()
