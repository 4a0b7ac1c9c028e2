import io

import pytest
from argon2 import PasswordHasher

from tests.factories import PASSWORD, register
from veza.keys import DB


async def count_users(client) -> int:
    return await client.app[DB].fetch_val("SELECT count(*) FROM users")


async def test_register_answers_as_the_reference(client):
    resp = await client.post(
        "/api/v1/auth/register",
        json={"username": "johndoe", "email": "john@example.com", "password": "SecureP@ssw0rd"},
    )
    assert resp.status == 201
    body = await resp.json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == {"user", "access_token", "refresh_token", "expires_in"}
    assert set(data["user"]) == {"id", "username", "email"}
    assert data["user"]["username"] == "johndoe"
    assert data["user"]["email"] == "john@example.com"
    assert data["expires_in"] == 3600
    assert data["access_token"].startswith("eyJ")
    assert resp.headers["Cache-Control"] == "no-store"
    cookie = resp.cookies["veza_refresh"]
    assert cookie.value == data["refresh_token"]
    assert cookie["httponly"] and cookie["secure"]
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/api/v1/auth"


async def test_password_is_stored_as_argon2id_with_owasp_parameters(owasp_client):
    client = owasp_client
    user = await register(client)
    stored = await client.app[DB].fetch_val("SELECT password_hash FROM users WHERE id = %s", (user["user"]["id"],))
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"username": "Ada"}, "username"),  # taken, whatever the case
        ({"email": "ADA@example.com"}, "email"),
    ],
)
async def test_taken_username_or_email_is_409_and_creates_nothing(client, changes, field):
    await register(client, username="ada", email="ada@example.com")
    body = {"username": "other", "email": "other@example.com", "password": PASSWORD, **changes}
    resp = await client.post("/api/v1/auth/register", json=body)
    assert resp.status == 409
    data = await resp.json()
    assert data["code"] == "already_taken"
    assert [d["field"] for d in data["details"]] == [field]
    assert await count_users(client) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"username": "ab"}, "username"),
        ({"username": "a" * 31}, "username"),
        ({"username": "bad name!"}, "username"),
        ({"username": "../../etc"}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@" + "b" * 250 + ".com"}, "email"),
        ({"password": "short1!"}, "password"),
        ({"password": "x" * 129}, "password"),
        ({"password": "password123"}, "password"),
        ({"password": "Password123"}, "password"),  # common, whatever the case
        ({"username": "melody.maker", "password": "Melody.Maker"}, "password"),
        ({"email": "melody@example.com", "password": "melody@example.com"}, "password"),
        ({"username": 12345}, "username"),
        ({"password": None}, "password"),
        ({"role": "admin"}, "role"),
    ],
)
async def test_invalid_registrations_are_422(client, changes, field):
    body = {"username": "melody", "email": "melody@example.com", "password": PASSWORD, **changes}
    resp = await client.post("/api/v1/auth/register", json=body)
    assert resp.status == 422
    data = await resp.json()
    assert field in [d["field"] for d in data["details"]]
    assert await count_users(client) == 0


async def test_missing_fields_and_bad_bodies(client):
    resp = await client.post("/api/v1/auth/register", json={})
    assert resp.status == 422
    assert {d["field"] for d in (await resp.json())["details"]} == {"username", "email", "password"}
    resp = await client.post("/api/v1/auth/register", data="[]", headers={"Content-Type": "application/json"})
    assert resp.status == 400
    resp = await client.post("/api/v1/auth/register", data="username=a")
    assert resp.status == 415
    big = io.BytesIO(b'{"username": "' + b"x" * 2_000_000 + b'"}')
    resp = await client.post("/api/v1/auth/register", data=big, headers={"Content-Type": "application/json"})
    assert resp.status == 413
    assert await count_users(client) == 0


async def test_registration_is_rate_limited_per_client(client):
    await register(client, username="first", email="first@example.com")
    statuses = []
    for _ in range(20):
        resp = await client.post(
            "/api/v1/auth/register",
            json={"username": "first", "email": "first@example.com", "password": PASSWORD},
        )
        statuses.append(resp.status)
    assert statuses[:19] == [409] * 19
    assert statuses[19] == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert (await resp.json())["code"] == "rate_limited"
