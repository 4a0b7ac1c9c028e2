"""PostgreSQL, Redis or S3 down or frozen: a 503 with Retry-After in bounded time, and recovery.

The app talks to the real servers through a TCP proxy (tests/outage.py) that the test kills
(a dead server) or freezes (a stopped one: connections accepted, nothing answered).
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import psycopg2
import pytest
from aiohttp import web

from tests.cloud.conftest import cloud_settings, s3_changes
from tests.factories import register, upload_file
from tests.outage import TcpProxy, full_backlog
from veza.app import add_routes, create_app
from veza.db import SERVER_CANCEL_GRACE
from veza.http import endpoint, ok
from veza.keys import DB

pytestmark = pytest.mark.slow

TIMEOUTS = {"db_connect_timeout": 0.5, "db_statement_timeout": 0.5, "redis_connect_timeout": 0.5, "redis_timeout": 0.5}
# Generous: three times the longest configured wait (a statement's timeout and the grace after it).
BOUND = 3 * (TIMEOUTS["db_statement_timeout"] + SERVER_CANCEL_GRACE)
CATALOG = "/api/v1/marketplace/products"
NEW_ACCOUNT = {"username": "newcomer", "email": "newcomer@example.com", "password": "Correct-Horse-Battery-9"}

routes = web.RouteTableDef()


@routes.get("/sleep")
@endpoint("A statement slower than statement_timeout", auth="public")
async def slow_statement(request):
    await request.app[DB].execute("SELECT pg_sleep(3)")
    return ok({})


@routes.get("/bad-sql")
@endpoint("A programming error that reaches PostgreSQL", auth="public")
async def bad_sql(request):
    await request.app[DB].execute("SELECT * FROM no_such_table")
    return ok({})


@routes.get("/timeout-bug")
@endpoint("A TimeoutError of the app's own, not from a dependency", auth="public")
async def timeout_bug(request):
    raise TimeoutError("not a dependency")


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{netloc}127.0.0.1:{port}"))


def _upstream(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or {"redis": 6379, "http": 80}.get(parts.scheme, 5432)


@pytest.fixture
async def pg_proxy(settings):
    proxy = TcpProxy(*_upstream(settings.database_url))
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.fixture
async def redis_proxy(settings):
    proxy = TcpProxy(*_upstream(settings.redis_url))
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.fixture
async def client(aiohttp_client, settings, pg_proxy, redis_proxy):
    """An app whose PostgreSQL and Redis are behind the proxies, with short timeouts."""
    changes = {
        **TIMEOUTS,
        "database_url": _via(settings.database_url, pg_proxy.port),
        "redis_url": _via(settings.redis_url, redis_proxy.port),
    }
    app = create_app(settings.model_copy(update=changes))
    add_routes(app, routes, "/api/v1/test")
    return await aiohttp_client(app)


async def answer(request_coro, bound: float = BOUND):
    """The answer, which must come within `bound` seconds (else the test fails: the request hung)."""
    async with asyncio.timeout(bound):
        resp = await request_coro
        await resp.read()
        return resp


async def assert_unavailable(resp) -> None:
    assert resp.status == 503, await resp.text()
    body = await resp.json()
    assert body["success"] is False
    assert body["code"] == "unavailable"
    assert body["request_id"] == resp.headers["X-Request-ID"]
    assert int(resp.headers["Retry-After"]) > 0


def login(client, user):
    return client.post("/api/v1/auth/login", json={"email": user["user"]["email"], "password": user["password"]})


def outage_lines(caplog, dependency: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "veza.edge" and r.getMessage().startswith(dependency)]


async def test_redis_down_answers_503_where_redis_is_needed_and_heals(client, redis_proxy, caplog):
    user = await register(client)
    await redis_proxy.kill()

    await assert_unavailable(await answer(login(client, user)))
    await assert_unavailable(await answer(client.post("/api/v1/auth/register", json=NEW_ACCOUNT)))
    # What does not need Redis keeps answering.
    assert (await answer(client.get("/api/v1/health"))).status == 200
    assert (await answer(client.get(CATALOG))).status == 200
    # One warning line per failed request, no traceback.
    lines = outage_lines(caplog, "redis unavailable")
    assert lines and all(r.levelno == logging.WARNING and r.exc_info is None for r in lines)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("veza")]

    await redis_proxy.restart()
    assert (await answer(login(client, user))).status == 200


async def test_redis_frozen_costs_a_request_its_timeout_not_forever(client, redis_proxy):
    user = await register(client)
    redis_proxy.freeze()

    await assert_unavailable(await answer(login(client, user)))
    await assert_unavailable(await answer(login(client, user)))  # again, on a fresh connection
    assert (await answer(client.get(CATALOG))).status == 200

    redis_proxy.thaw()
    assert (await answer(login(client, user))).status == 200


async def test_postgres_down_answers_503_and_heals(client, pg_proxy, caplog):
    assert (await answer(client.get(CATALOG))).status == 200
    await pg_proxy.kill()

    await assert_unavailable(await answer(client.get(CATALOG)))
    await assert_unavailable(await answer(client.post("/api/v1/auth/register", json=NEW_ACCOUNT)))
    assert (await answer(client.get("/api/v1/health"))).status == 200
    lines = outage_lines(caplog, "database unavailable")
    assert lines and all(r.exc_info is None for r in lines)

    await pg_proxy.restart()
    assert (await answer(client.get(CATALOG))).status == 200
    await register(client)


async def test_postgres_frozen_costs_a_request_seconds(client, pg_proxy):
    assert (await answer(client.get(CATALOG))).status == 200  # a pooled connection, now idle
    pg_proxy.freeze()

    await assert_unavailable(await answer(client.get(CATALOG)))  # on the pooled connection
    await assert_unavailable(await answer(client.get(CATALOG)))  # opening a new one

    pg_proxy.thaw()
    assert (await answer(client.get(CATALOG))).status == 200


async def test_no_free_pooled_connection_within_the_connect_timeout_is_503(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings.model_copy(update={**TIMEOUTS, "db_pool_max": 1})))
    async with client.app[DB].connection():  # the pool's only connection, busy
        await assert_unavailable(await answer(client.get(CATALOG)))
    assert (await answer(client.get(CATALOG))).status == 200


async def test_a_statement_over_statement_timeout_is_cancelled_and_the_connection_reused(client, caplog):
    await assert_unavailable(await answer(client.get("/api/v1/test/sleep")))
    # aiopg reports the cancel to the event loop as an error with a traceback: not logged.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    pool = client.app[DB].pool
    assert pool.size == pool.freesize == 1  # the cancelled statement's connection went back to the pool
    assert await client.app[DB].fetch_val("SELECT 1") == 1


async def test_programming_errors_stay_500(client, caplog):
    for path in ("/api/v1/test/bad-sql", "/api/v1/test/timeout-bug"):
        resp = await answer(client.get(path))
        assert resp.status == 500, path
        assert (await resp.json())["code"] == "internal_error"
        assert "Retry-After" not in resp.headers
    assert any(r.exc_info and r.exc_info[0] is psycopg2.errors.UndefinedTable for r in caplog.records)


async def test_the_rtmp_probe_gives_up_after_its_timeout(aiohttp_client, settings):
    with full_backlog() as port:
        app = create_app(settings.model_copy(update={"rtmp_health_port": port, "rtmp_health_timeout": 0.2}))
        client = await aiohttp_client(app)
        resp = await answer(client.get("/api/v1/live/health"), bound=0.9)
        assert (await resp.json())["data"]["status"] == "down"


async def test_s3_frozen_answers_503_within_its_timeouts(aiohttp_client, settings, moto_endpoint, tmp_path):
    proxy = TcpProxy(*_upstream(moto_endpoint))
    await proxy.start()
    s3 = s3_changes(f"http://127.0.0.1:{proxy.port}")
    timeouts = {"s3_connect_timeout": 0.5, "s3_read_timeout": 0.5, "s3_max_attempts": 1}
    client = await aiohttp_client(create_app(cloud_settings(settings, tmp_path, **s3, **timeouts)))
    try:
        user = await register(client)
        await upload_file(client, user)
        proxy.freeze()
        form = aiohttp.FormData()
        form.add_field("file", b"RIFF....WAVE", filename="late.wav", content_type="audio/wav")
        resp = await answer(client.post("/api/v1/cloud/files", data=form, headers=user["headers"]), bound=4.5)
        await assert_unavailable(resp)
        proxy.thaw()
        await upload_file(client, user)
    finally:
        await proxy.close()
