from argon2 import PasswordHasher

from tests.factories import PASSWORD, bearer, register
from tests.outage import wait_until
from veza.auth.service import LOGINS_PER_MINUTE_PER_CLIENT
from veza.keys import DB, PASSWORDS, REDIS


async def login(client, email, password=PASSWORD, **kwargs):
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password}, **kwargs)


async def test_login_answers_as_the_reference(client):
    await register(client, username="johndoe", email="john@example.com", password="SecureP@ssw0rd")
    resp = await login(client, "john@example.com", "SecureP@ssw0rd")
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert set(data) == {"access_token", "refresh_token", "expires_in", "user"}
    assert data["user"]["email"] == "john@example.com"
    assert data["expires_in"] == 3600
    me = await client.get("/api/v1/users/me", headers=bearer(data["access_token"]))
    assert me.status == 200
    assert (await me.json())["data"]["username"] == "johndoe"


async def test_email_is_case_insensitive(client):
    await register(client, email="Case@Example.com")
    assert (await login(client, "case@example.COM")).status == 200


async def test_wrong_password_and_unknown_email_look_the_same(client):
    await register(client, email="known@example.com")
    wrong = await login(client, "known@example.com", "Not-The-Password-1")
    unknown = await login(client, "nobody@example.com", "Not-The-Password-1")
    assert wrong.status == unknown.status == 401
    wrong_body, unknown_body = await wrong.json(), await unknown.json()
    for key in ("error", "code", "details"):
        assert wrong_body[key] == unknown_body[key]
    assert wrong_body["code"] == "invalid_credentials"


async def test_unknown_email_costs_the_same_verification_as_a_wrong_password(client, monkeypatch):
    """Both answers spend one argon2 verification at the same parameters, so timing tells nothing.

    (Counted rather than timed: a timing ratio is noise on a shared machine.)
    """
    await register(client, email="timed@example.com")
    verified = []
    passwords = client.app[PASSWORDS]
    real_verify = passwords.verify

    async def counted(password_hash, password):
        verified.append(password_hash.rpartition("$")[0].rpartition("$")[0])  # $argon2id$v=..$m=..,t=..,p=..
        return await real_verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify", counted)  # the known email's path and the unknown one's
    assert (await login(client, "timed@example.com", "Not-The-Password-1")).status == 401
    assert (await login(client, "nobody@example.com", "Not-The-Password-1")).status == 401
    assert len(verified) == 2
    assert verified[0] == verified[1]
    assert verified[0].startswith("$argon2id$")


async def test_five_failures_lock_the_account_and_the_lock_expires(client):
    await register(client, email="locked@example.com")
    statuses = [(await login(client, "locked@example.com", "Wrong-Password-1")).status for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 423]
    resp = await login(client, "locked@example.com")  # even the right password
    assert resp.status == 423
    assert 1700 < int(resp.headers["Retry-After"]) <= 1800
    assert (await resp.json())["code"] == "account_locked"

    attempts = "veza:login:attempts:locked@example.com"
    await client.app[REDIS].pexpire(attempts, 100)

    async def expired():
        return not await client.app[REDIS].exists(attempts)

    await wait_until(expired)
    assert (await login(client, "locked@example.com")).status == 200


async def test_unknown_emails_lock_too_so_locks_reveal_nothing(client):
    statuses = [(await login(client, "ghost@example.com", "Wrong-Password-1")).status for _ in range(6)]
    assert statuses[-2:] == [423, 423]


async def test_a_success_clears_the_failure_count(client):
    await register(client, email="careful@example.com")
    for _ in range(4):
        assert (await login(client, "careful@example.com", "Wrong-Password-1")).status == 401
    assert (await login(client, "careful@example.com")).status == 200
    for _ in range(4):
        assert (await login(client, "careful@example.com", "Wrong-Password-1")).status == 401
    assert (await login(client, "careful@example.com")).status == 200


async def test_logins_are_rate_limited_per_client_address(client):
    statuses = []
    for n in range(LOGINS_PER_MINUTE_PER_CLIENT + 1):
        resp = await login(client, f"nobody{n}@example.com", "Wrong-Password-1")
        statuses.append(resp.status)
    assert set(statuses[:-1]) == {401}
    assert statuses[-1] == 429
    assert 0 < int(resp.headers["Retry-After"]) <= 60


async def test_old_hashes_are_upgraded_at_login(owasp_client):
    client = owasp_client
    user = await register(client, email="legacy@example.com")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    await client.app[DB].execute("UPDATE users SET password_hash = %s WHERE id = %s", (weak, user["user"]["id"]))
    assert (await login(client, "legacy@example.com")).status == 200
    stored = await client.app[DB].fetch_val("SELECT password_hash FROM users WHERE id = %s", (user["user"]["id"],))
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert (await login(client, "legacy@example.com")).status == 200


async def test_bad_login_bodies(client):
    assert (await client.post("/api/v1/auth/login", json={"email": "a@b.c"})).status == 422
    assert (await client.post("/api/v1/auth/login", json={"email": ["x"], "password": 1})).status == 422
    resp = await client.post("/api/v1/auth/login", json={"email": "a@b.c", "password": "x" * 10_000})
    assert resp.status == 422
    assert (
        await client.post("/api/v1/auth/login", data="{", headers={"Content-Type": "application/json"})
    ).status == 400
