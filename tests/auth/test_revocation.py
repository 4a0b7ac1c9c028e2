"""Sessions and their revocation live in PostgreSQL; Redis only caches them."""

import asyncio

import jwt
import pytest
from aiohttp import WSMsgType

from tests.factories import PASSWORD, bearer, register, ws_receive
from tests.outage import free_port
from veza.app import create_app
from veza.auth.revocation import cache_key
from veza.keys import DB, REDIS, REDIS_BYPASS

ME = "/api/v1/users/me"
LOGOUT = "/api/v1/auth/logout"
REFRESH = "/api/v1/auth/refresh"
WS = "/api/v1/ws"


def session_of(user) -> str:
    return jwt.decode(user["access_token"], options={"verify_signature": False})["sid"]


@pytest.fixture
async def without_redis(aiohttp_client, settings):
    """The same application (same database and secrets) whose Redis does not answer."""
    app = create_app(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"}))
    return await aiohttp_client(app)


async def test_a_logout_survives_redis_restarting_empty(client):
    user = await register(client)
    assert (await client.get(ME, headers=user["headers"])).status == 200  # its live state is cached now
    assert (await client.post(LOGOUT, headers=user["headers"])).status == 200
    assert (await client.get(ME, headers=user["headers"])).status == 401
    await client.app[REDIS].flushdb()
    resp = await client.get(ME, headers=user["headers"])
    assert resp.status == 401
    assert (await resp.json())["error"] == "Access token revoked"
    assert (await client.post(REFRESH, json={"refresh_token": user["refresh_token"]})).status == 401


async def test_a_password_change_survives_redis_restarting_empty(client):
    user = await register(client)
    other = await client.post("/api/v1/auth/login", json={"email": user["user"]["email"], "password": PASSWORD})
    other_headers = bearer((await other.json())["data"]["access_token"])
    assert (await client.get(ME, headers=other_headers)).status == 200  # its live state is cached now
    change = {"password": "Another-Long-Secret-7", "current_password": PASSWORD}
    assert (await client.patch(ME, json=change, headers=user["headers"])).status == 200
    assert (await client.get(ME, headers=other_headers)).status == 401  # at once, not when the cache expires
    await client.app[REDIS].flushdb()
    assert (await client.get(ME, headers=other_headers)).status == 401
    assert (await client.get(ME, headers=user["headers"])).status == 200


async def test_a_reused_refresh_token_ends_the_session_across_a_redis_restart(client):
    user = await register(client)
    rotated = (await (await client.post(REFRESH, json={"refresh_token": user["refresh_token"]})).json())["data"]
    await client.app[DB].execute("UPDATE refresh_tokens SET used_at = now() - interval '1 hour'")
    assert (await client.post(REFRESH, json={"refresh_token": user["refresh_token"]})).status == 401
    await client.app[REDIS].flushdb()
    assert (await client.get(ME, headers=bearer(rotated["access_token"]))).status == 401


async def test_a_revoked_token_opens_no_websocket_after_redis_restarts_empty(client):
    user = await register(client)
    assert (await client.post(LOGOUT, headers=user["headers"])).status == 200
    await client.app[REDIS].flushdb()
    ws = await client.ws_connect(f"{WS}?token={user['access_token']}")
    assert (await ws_receive(ws, type_="error"))["code"] == "unauthorized"
    assert (await ws.receive(timeout=5)).type == WSMsgType.CLOSE
    assert ws.close_code == 4401


async def test_authentication_works_without_redis(client, without_redis):
    user = await register(client)
    resp = await without_redis.get(ME, headers=user["headers"])
    assert resp.status == 200
    assert (await resp.json())["data"]["id"] == user["user"]["id"]


async def test_a_revoked_token_stays_refused_without_redis(client, without_redis):
    user = await register(client)
    assert (await client.post(LOGOUT, headers=user["headers"])).status == 200
    resp = await without_redis.get(ME, headers=user["headers"])
    assert resp.status == 401
    assert (await resp.json())["error"] == "Access token revoked"


async def test_a_logout_while_redis_is_down_is_kept(client, without_redis):
    user = await register(client)
    assert (await without_redis.post(LOGOUT, headers=user["headers"])).status == 200
    assert (await client.get(ME, headers=user["headers"])).status == 401


async def test_the_check_is_cached_briefly_and_the_database_decides(client, settings):
    user = await register(client)
    key = cache_key(session_of(user))
    assert (await client.get(ME, headers=user["headers"])).status == 200
    assert await client.app[REDIS].get(key) == "live"
    assert 0 < await client.app[REDIS].ttl(key) <= settings.session_cache_seconds
    # a revocation that reached only the database shows once the cached answer expires
    await client.app[DB].execute("UPDATE sessions SET revoked_at = now()")
    assert (await client.get(ME, headers=user["headers"])).status == 200
    await client.app[REDIS].delete(key)
    assert (await client.get(ME, headers=user["headers"])).status == 401
    assert await client.app[REDIS].get(key) == "revoked"


async def test_a_token_whose_session_is_unknown_is_refused(client):
    user = await register(client)
    await client.app[DB].execute("DELETE FROM sessions")
    assert (await client.get(ME, headers=user["headers"])).status == 401


async def test_a_frozen_redis_costs_one_check_its_timeout_then_is_skipped(
    client, aiohttp_client, settings, redis_server
):
    """After Redis failed a session check, the next checks go straight to PostgreSQL for a few seconds."""
    user = await register(client)
    changes = {"redis_url": redis_server.url, "redis_timeout": 2.0}
    frozen = await aiohttp_client(create_app(settings.model_copy(update=changes)))
    redis_server.freeze()
    assert not frozen.app[REDIS_BYPASS].active
    assert (await frozen.get(ME, headers=user["headers"])).status == 200  # after Redis's timeout
    assert frozen.app[REDIS_BYPASS].active
    for _ in range(3):
        async with asyncio.timeout(1.0):  # well under REDIS_TIMEOUT: Redis is not asked
            assert (await frozen.get(ME, headers=user["headers"])).status == 200


async def test_a_password_change_that_cannot_end_the_other_sessions_changes_nothing(
    client, aiohttp_client, settings, redis_server
):
    """A 200 means the other sessions are refused at once: a Redis that refuses writes (and would
    keep another session's cached "live" answer) makes the change a 503 that changed nothing."""
    app = create_app(settings.model_copy(update={"redis_url": redis_server.url}))
    own = await aiohttp_client(app)
    user = await register(own)
    other = await own.post("/api/v1/auth/login", json={"email": user["user"]["email"], "password": PASSWORD})
    other_headers = bearer((await other.json())["data"]["access_token"])
    assert (await own.get(ME, headers=other_headers)).status == 200  # its live state is cached now
    await app[REDIS].config_set("min-replicas-to-write", 1)  # reads go on, every write fails (NOREPLICAS)

    change = {"password": "Another-Long-Secret-7", "current_password": PASSWORD}
    resp = await own.patch(ME, json=change, headers=user["headers"])
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "5"
    assert (await resp.json())["code"] == "unavailable"
    assert await app[DB].fetch_val("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL") == 0

    await app[REDIS].config_set("min-replicas-to-write", 0)
    assert (await own.patch(ME, json=change, headers=user["headers"])).status == 200
    assert (await own.get(ME, headers=other_headers)).status == 401
    assert (await own.get(ME, headers=user["headers"])).status == 200
