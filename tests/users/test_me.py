import asyncio
import subprocess
import sys

import pytest

from tests.factories import PASSWORD, bearer, register
from veza.keys import DB

ME = "/api/v1/users/me"


async def test_me_shows_the_callers_own_account(client):
    user = await register(client)
    await register(client)
    resp = await client.get(ME, headers=user["headers"])
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert data["id"] == user["user"]["id"]
    assert set(data) == {"id", "username", "email", "role", "created_at", "updated_at"}
    assert data["role"] == "user"
    assert data["created_at"].endswith("Z")


async def test_me_needs_a_token(client):
    assert (await client.get(ME)).status == 401
    assert (await client.patch(ME, json={"username": "x"})).status == 401


async def test_rename(client):
    user = await register(client)
    resp = await client.patch(ME, json={"username": "new_name"}, headers=user["headers"])
    assert resp.status == 200
    assert (await resp.json())["data"]["username"] == "new_name"


async def test_taken_username_is_409_and_nothing_changes(client):
    user = await register(client, username="mine")
    await register(client, username="theirs")
    resp = await client.patch(ME, json={"username": "THEIRS"}, headers=user["headers"])
    assert resp.status == 409
    assert (await (await client.get(ME, headers=user["headers"])).json())["data"]["username"] == "mine"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "new@example.com"},
        {"email": "new@example.com", "current_password": "Wrong-Password-1"},
        {"password": "Another-Good-Pass-7"},
        {"password": "Another-Good-Pass-7", "current_password": "Wrong-Password-1"},
    ],
)
async def test_email_and_password_changes_need_the_current_password(client, body):
    user = await register(client, email="old@example.com")
    resp = await client.patch(ME, json=body, headers=user["headers"])
    assert resp.status == 422
    assert (await resp.json())["code"] == "current_password_required"
    me = (await (await client.get(ME, headers=user["headers"])).json())["data"]
    assert me["email"] == "old@example.com"


@pytest.mark.parametrize(
    "body",
    [
        {"role": "admin"},
        {"username": "a"},
        {"username": 7},
        {"email": "nope"},
        {"password": "short"},
        {"username": "x" * 10_000},
    ],
)
async def test_invalid_changes_are_422(client, body):
    user = await register(client)
    resp = await client.patch(ME, json=body, headers=user["headers"])
    assert resp.status == 422
    assert (await (await client.get(ME, headers=user["headers"])).json())["data"]["role"] == "user"


async def test_a_weak_new_password_is_refused(client):
    user = await register(client)
    resp = await client.patch(
        ME, json={"password": "password123", "current_password": PASSWORD}, headers=user["headers"]
    )
    assert resp.status == 422
    assert (await resp.json())["details"][0]["field"] == "password"


async def test_a_password_change_logs_out_other_sessions_only(client):
    user = await register(client, email="moving@example.com")
    other_login = await client.post("/api/v1/auth/login", json={"email": "moving@example.com", "password": PASSWORD})
    other = (await other_login.json())["data"]

    new_password = "Brand-New-Secret-42"
    resp = await client.patch(
        ME, json={"password": new_password, "current_password": PASSWORD}, headers=user["headers"]
    )
    assert resp.status == 200

    assert (await client.get(ME, headers=bearer(other["access_token"]))).status == 401
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})).status == 401
    assert (await client.get(ME, headers=user["headers"])).status == 200
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": user["refresh_token"]})).status == 200

    old = await client.post("/api/v1/auth/login", json={"email": "moving@example.com", "password": PASSWORD})
    assert old.status == 401
    new = await client.post("/api/v1/auth/login", json={"email": "moving@example.com", "password": new_password})
    assert new.status == 200


async def test_an_email_change_logs_out_other_sessions(client):
    user = await register(client, email="before@example.com")
    other = (
        await (
            await client.post("/api/v1/auth/login", json={"email": "before@example.com", "password": PASSWORD})
        ).json()
    )["data"]
    resp = await client.patch(
        ME, json={"email": "after@example.com", "current_password": PASSWORD}, headers=user["headers"]
    )
    assert resp.status == 200
    assert (await resp.json())["data"]["email"] == "after@example.com"
    assert (await client.get(ME, headers=bearer(other["access_token"]))).status == 401


@pytest.mark.slow
@pytest.mark.usefixtures("clean_state")
def test_create_admin_from_the_command_line(database_url):
    env = {"DATABASE_URL": database_url, "VEZA_ADMIN_PASSWORD": "Admin-Strong-Pass-1", "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "veza", "create-admin", "--email", "root@example.com", "--username", "root"]
    proc = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "admin root <root@example.com> created" in proc.stdout
    again = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1
    assert "already taken" in again.stderr
    weak = subprocess.run(
        [*run[:-4], "--email", "x@example.com", "--username", "xx-admin"],
        env={**env, "VEZA_ADMIN_PASSWORD": "password123"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert weak.returncode == 1
    assert "too common" in weak.stderr


@pytest.mark.slow
async def test_created_admin_has_the_admin_role(client, database_url):
    env = {"DATABASE_URL": database_url, "VEZA_ADMIN_PASSWORD": "Admin-Strong-Pass-1", "PATH": "/usr/bin:/bin"}
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "veza", "create-admin", "--email", "boss@example.com", "--username", "boss"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert await client.app[DB].fetch_val("SELECT role FROM users WHERE email = 'boss@example.com'") == "admin"
    resp = await client.post(
        "/api/v1/auth/login", json={"email": "boss@example.com", "password": "Admin-Strong-Pass-1"}
    )
    assert resp.status == 200
