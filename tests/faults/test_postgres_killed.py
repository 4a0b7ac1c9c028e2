"""PostgreSQL's sessions terminated, then the server crashed and started again, under a real `veza serve`
and `veza worker` on a cluster of the test's own.

Terminated sessions cost at most the requests that were on them (503, never a 500), then the pool opens
new ones. While the server is down, what needs it answers the 503 envelope within its timeouts (no request
hangs) and /health keeps answering; once it is back, everything works again with no restart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import pytest

from tests.factories import register
from tests.faults.postgres import PostgresCluster, missing
from tests.outage import wait_until
from veza.migrate import migrate

pytestmark = [pytest.mark.slow, pytest.mark.skipif(missing() is not None, reason=missing() or "")]

TIMEOUTS = {"db_connect_timeout": 0.5, "db_statement_timeout": 0.5}
BOUND = 4.0  # seconds: a request's longest wait on a dead database (connect + statement + grace), twice
CATALOG = "/api/v1/marketplace/products"
NEWCOMER = {"username": "late", "email": "late@example.com", "password": "Correct-Horse-Battery-9"}


@pytest.fixture
def cluster():
    cluster = PostgresCluster()
    cluster.init()
    cluster.start()
    yield cluster
    cluster.remove()


@pytest.fixture
def app_settings(settings, cluster, redis_server, tmp_path):
    database_url = cluster.create_database("veza")
    migrate(database_url)
    return settings.model_copy(
        update={"database_url": database_url, "redis_url": redis_server.url, "data_dir": tmp_path / "data"}
    )


async def status_of(http, method: str, path: str, **kwargs) -> int:
    """The answer's status, which must come within BOUND (else the request hung) and never be a 500."""
    async with asyncio.timeout(BOUND), http.request(method, path, **kwargs) as resp:
        body = await resp.json()
        if resp.status == 503:
            assert (body["code"], int(resp.headers["Retry-After"]) > 0) == ("unavailable", True), body
        assert resp.status < 500 or resp.status == 503, body
        return resp.status


async def burst(http, user: dict, rounds: int = 5) -> list[int]:
    """Concurrent requests on the catalog and an authenticated route, `rounds` times; their statuses."""
    statuses = []
    for _ in range(rounds):
        statuses += await asyncio.gather(
            *(status_of(http, "GET", CATALOG) for _ in range(4)),
            *(status_of(http, "GET", "/api/v1/users/me", headers=user["headers"]) for _ in range(4)),
        )
    return statuses


async def background(http, user: dict, seen: list[int]) -> None:
    """Traffic that goes on through every fault: each answer bounded in time and never a 500."""
    while True:
        seen += await burst(http, user, rounds=1)


async def test_terminated_sessions_and_a_crashed_server_cost_503s_then_heal(http, cluster, web, worker):
    user = await register(http)
    assert set(await burst(http, user, rounds=2)) == {200}  # the pool holds several sessions now
    seen: list[int] = []
    load = asyncio.create_task(background(http, user, seen))
    await wait_until(lambda: len(seen) >= 16)

    assert cluster.terminate("veza") > 0
    statuses = await burst(http, user)
    # At most the requests that met a terminated session fail (503); the pool then opens new ones.
    assert set(statuses) <= {200, 503}
    assert statuses[-8:] == [200] * 8, statuses

    cluster.crash()
    assert set(await burst(http, user, rounds=2)) == {503}
    assert await status_of(http, "POST", "/api/v1/auth/register", json=NEWCOMER) == 503
    assert await status_of(http, "GET", "/api/v1/health") == 200
    async with asyncio.timeout(BOUND), http.get("/api/v1/readyz") as resp:
        assert (resp.status, (await resp.json())["data"]["status"]) == (503, "not_ready")

    cluster.start()

    async def catalog_back() -> bool:
        return await status_of(http, "GET", CATALOG) == 200

    await wait_until(catalog_back, timeout=15)
    load.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await load  # an assertion that failed in it (a 500, a request past BOUND) fails the test here
    assert {200, 503} == set(seen), Counter(seen)
    assert set(await burst(http, user, rounds=2)) == {200}
    await register(http)
    # The worker too: an export asked now is built and ready.
    async with http.post("/api/v1/users/me/export", headers=user["headers"]) as resp:
        assert resp.status == 202, await resp.text()
        export_id = (await resp.json())["data"]["export_id"]

    async def export_ready() -> bool:
        async with http.get(f"/api/v1/users/me/exports/{export_id}", headers=user["headers"]) as resp:
            return (await resp.json())["data"]["status"] == "ready"

    await wait_until(export_ready, timeout=30)
    assert (web.starts, worker.starts) == (1, 1)
    assert web.alive and worker.alive
    assert worker.stop() == 0, worker.log()
    assert web.stop() == 0, web.log()
    assert '"level":"error"' not in web.log() + worker.log()
