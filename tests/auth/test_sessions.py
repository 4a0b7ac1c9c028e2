"""Refresh-token rotation, reuse detection, logout."""

import asyncio

import jwt

from tests.factories import bearer, register
from veza.app import create_app
from veza.auth.tokens import digest
from veza.keys import DB

REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/users/me"


def session_of(access_token):
    return jwt.decode(access_token, options={"verify_signature": False})["sid"]


async def past_the_grace_period(client):
    """As if every used refresh token had been used an hour ago."""
    await client.app[DB].execute("UPDATE refresh_tokens SET used_at = used_at - interval '1 hour'")


async def refresh(client, token=None, **kwargs):
    if token is None:
        return await client.post(REFRESH, **kwargs)
    return await client.post(REFRESH, json={"refresh_token": token}, **kwargs)


async def test_refresh_rotates_the_pair(client):
    user = await register(client)
    resp = await refresh(client, user["refresh_token"])
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert data["refresh_token"] != user["refresh_token"]
    assert data["access_token"] != user["access_token"]
    assert resp.cookies["veza_refresh"].value == data["refresh_token"]
    assert (await client.get(ME, headers=bearer(data["access_token"]))).status == 200
    # and the new refresh token works once in turn
    assert (await refresh(client, data["refresh_token"])).status == 200


async def test_refresh_from_the_cookie(client):
    user = await register(client)
    resp = await refresh(client, headers={"Cookie": f"veza_refresh={user['refresh_token']}"})
    assert resp.status == 200
    resp = await client.post(
        REFRESH, data=b"", headers={"Content-Type": "application/json", "Cookie": "veza_refresh=nope"}
    )
    assert resp.status == 401


async def test_reusing_a_refresh_token_ends_the_whole_session(client):
    user = await register(client)
    rotated = (await (await refresh(client, user["refresh_token"])).json())["data"]
    await past_the_grace_period(client)

    replay = await refresh(client, user["refresh_token"])
    assert replay.status == 401
    assert (await replay.json())["code"] == "refresh_token_reused"
    # every token of that session is now dead: the rotated refresh token and its access token
    assert (await refresh(client, rotated["refresh_token"])).status == 401
    resp = await client.get(ME, headers=bearer(rotated["access_token"]))
    assert resp.status == 401
    assert (await resp.json())["error"] == "Access token revoked"


async def test_other_sessions_survive_a_reuse_in_one(client):
    user = await register(client)
    login = await client.post("/api/v1/auth/login", json={"email": user["user"]["email"], "password": user["password"]})
    other = (await login.json())["data"]
    await refresh(client, user["refresh_token"])
    await past_the_grace_period(client)
    await refresh(client, user["refresh_token"])  # reuse: kills the first session only
    assert (await client.get(ME, headers=bearer(other["access_token"]))).status == 200
    assert (await refresh(client, other["refresh_token"])).status == 200


async def test_concurrent_refreshes_each_get_a_pair_in_the_same_session(client):
    """Two browser tabs (here ten) refreshing with the same token at once stay logged in."""
    user = await register(client)
    answers = await asyncio.gather(*(refresh(client, user["refresh_token"]) for _ in range(10)))
    assert [resp.status for resp in answers] == [200] * 10
    pairs = [(await resp.json())["data"] for resp in answers]
    assert len({pair["refresh_token"] for pair in pairs}) == 10
    assert {session_of(pair["access_token"]) for pair in pairs} == {session_of(user["access_token"])}
    for pair in pairs:
        assert (await client.get(ME, headers=bearer(pair["access_token"]))).status == 200
        assert (await refresh(client, pair["refresh_token"])).status == 200


async def test_reuse_after_the_grace_period_ends_the_session_and_its_grace_pairs(client):
    user = await register(client)
    first = (await (await refresh(client, user["refresh_token"])).json())["data"]
    again = (await (await refresh(client, user["refresh_token"])).json())["data"]  # within the grace period
    await past_the_grace_period(client)
    replay = await refresh(client, user["refresh_token"])
    assert replay.status == 401
    assert (await replay.json())["code"] == "refresh_token_reused"
    for pair in (first, again):
        assert (await client.get(ME, headers=bearer(pair["access_token"]))).status == 401
        assert (await refresh(client, pair["refresh_token"])).status == 401


async def test_the_grace_period_is_a_setting(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings.model_copy(update={"refresh_reuse_grace_seconds": 0})))
    user = await register(client)
    first, second = await asyncio.gather(refresh(client, user["refresh_token"]), refresh(client, user["refresh_token"]))
    assert sorted([first.status, second.status]) == [200, 401]


async def test_the_grace_period_runs_from_the_first_use(client, settings):
    """Presenting the token again within the period does not extend it."""
    user = await register(client)
    token_hash = digest(user["refresh_token"])
    assert (await refresh(client, user["refresh_token"])).status == 200
    almost_over = settings.refresh_reuse_grace_seconds - 1
    await client.app[DB].execute(
        "UPDATE refresh_tokens SET used_at = now() - make_interval(secs => %s) WHERE token_hash = %s",
        (almost_over, token_hash),
    )
    assert (await refresh(client, user["refresh_token"])).status == 200
    age = await client.app[DB].fetch_val(
        "SELECT extract(epoch FROM now() - used_at) FROM refresh_tokens WHERE token_hash = %s", (token_hash,)
    )
    assert age >= almost_over


async def test_expired_and_unknown_refresh_tokens_are_401(client):
    user = await register(client)
    await client.app[DB].execute("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'")
    assert (await refresh(client, user["refresh_token"])).status == 401
    assert (await refresh(client, "made-up-token")).status == 401
    assert (await refresh(client)).status == 401
    assert (await refresh(client, "x" * 300)).status == 422
    resp = await client.post(REFRESH, json={"refresh_token": 42})
    assert resp.status == 422


async def test_refresh_tokens_are_stored_hashed(client):
    user = await register(client)
    rows = await client.app[DB].fetch_all("SELECT token_hash FROM refresh_tokens")
    assert len(rows) == 1
    assert user["refresh_token"].encode() not in bytes(rows[0]["token_hash"])
    assert len(bytes(rows[0]["token_hash"])) == 32


async def test_logout_ends_the_session_and_the_access_token(client):
    user = await register(client)
    resp = await client.post(LOGOUT, json={"refresh_token": user["refresh_token"]}, headers=user["headers"])
    assert resp.status == 200
    assert (await resp.json())["data"] == {"message": "Logged out"}
    assert resp.cookies["veza_refresh"].value == ""
    assert (await client.get(ME, headers=user["headers"])).status == 401
    assert (await refresh(client, user["refresh_token"])).status == 401


async def test_logout_without_a_bearer_token_uses_the_cookie(client):
    user = await register(client)
    resp = await client.post(LOGOUT, headers={"Cookie": f"veza_refresh={user['refresh_token']}"})
    assert resp.status == 200
    assert (await refresh(client, user["refresh_token"])).status == 401
    # the access token of that session is revoked with it
    assert (await client.get(ME, headers=user["headers"])).status == 401


async def test_logout_with_only_a_bearer_token_ends_that_session(client):
    user = await register(client)
    assert (await client.post(LOGOUT, headers=user["headers"])).status == 200
    assert (await client.get(ME, headers=user["headers"])).status == 401
    assert (await refresh(client, user["refresh_token"])).status == 401


async def test_logout_is_harmless_without_anything_and_touches_no_one_else(client):
    user = await register(client)
    other = await register(client)
    assert (await client.post(LOGOUT)).status == 200
    resp = await client.post(LOGOUT, json={"refresh_token": "not-a-token"})
    assert resp.status == 200
    assert (await client.get(ME, headers=user["headers"])).status == 200
    assert (await client.get(ME, headers=other["headers"])).status == 200
