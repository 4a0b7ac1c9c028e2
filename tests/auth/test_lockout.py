"""The login lockout holds under concurrency: at most five passwords are ever checked per window."""

import asyncio
import collections
import socket

import pytest

from tests.factories import PASSWORD, register
from veza.app import create_app
from veza.auth.lockout import MAX_FAILURES
from veza.keys import PASSWORDS

LOGIN = "/api/v1/auth/login"


@pytest.fixture
async def spread(aiohttp_client, settings):
    """A client whose requests may each claim their own address (X-Forwarded-For), as a botnet's would,
    so that the per-address rate limit does not hide the lockout."""
    return await aiohttp_client(create_app(settings.model_copy(update={"trust_proxy": True})))


@pytest.fixture
def verifications(spread, monkeypatch):
    """How many passwords login really verified (the real argon2 check, counted)."""
    calls = []
    passwords = spread.app[PASSWORDS]
    verify = passwords.verify

    async def counted(password_hash, password):
        calls.append(password)
        return await verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify", counted)
    return calls


async def attempt(client, n, email, password):
    body = {"email": email, "password": password}
    return await client.post(LOGIN, json=body, headers={"X-Forwarded-For": f"198.51.100.{n}"})


async def test_fifty_concurrent_wrong_passwords_check_at_most_five(spread, verifications):
    await register(spread, email="target@example.com")
    answers = await asyncio.gather(
        *(attempt(spread, n, "target@example.com", f"Wrong-Password-{n}") for n in range(50))
    )
    statuses = collections.Counter(resp.status for resp in answers)
    assert len(verifications) == MAX_FAILURES
    # the first four checked say 401, the fifth locks (423), and the rest are refused unchecked
    assert statuses == {401: MAX_FAILURES - 1, 423: 50 - (MAX_FAILURES - 1)}


async def test_the_right_password_after_concurrent_failures_is_refused(spread, verifications):
    await register(spread, email="target@example.com")
    wrong = [attempt(spread, n, "target@example.com", f"Wrong-Password-{n}") for n in range(19)]
    *failures, right = await asyncio.gather(*wrong, attempt(spread, 99, "target@example.com", PASSWORD))
    assert right.status == 423
    assert (await right.json())["code"] == "account_locked"
    assert PASSWORD not in verifications
    assert len(verifications) == MAX_FAILURES
    assert [resp.status for resp in failures].count(401) == MAX_FAILURES - 1


async def test_concurrent_attempts_on_an_unknown_email_lock_it_alike(spread):
    answers = await asyncio.gather(*(attempt(spread, n, "ghost@example.com", "Wrong-Password-1") for n in range(20)))
    statuses = collections.Counter(resp.status for resp in answers)
    assert statuses == {401: MAX_FAILURES - 1, 423: 20 - (MAX_FAILURES - 1)}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_login_fails_closed_without_redis(aiohttp_client, settings, verifications):
    """No attempt can be counted without Redis, so no password is checked: 503, not a login."""
    app = create_app(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{closed_port()}/0"}))
    client = await aiohttp_client(app)
    resp = await client.post(LOGIN, json={"email": "someone@example.com", "password": PASSWORD})
    assert resp.status == 503
    assert (await resp.json())["code"] == "unavailable"
    assert int(resp.headers["Retry-After"]) > 0
    assert verifications == []
