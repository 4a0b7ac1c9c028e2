import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.outage import wait_until
from veza.app import create_app
from veza.errors import RateLimited
from veza.keys import REDIS, SETTINGS
from veza.ratelimit import client_ip, count_hit, limit


async def test_window_opens_at_the_first_hit(client):
    redis = client.app[REDIS]
    assert await count_hit(redis, "k", 60) == (1, 60)
    hits, left = await count_hit(redis, "k", 60)
    assert hits == 2
    assert 59 <= left <= 60


async def test_limit_raises_with_retry_after_and_resets(client):
    redis = client.app[REDIS]
    for _ in range(3):
        await limit(redis, "probe", "1.2.3.4", max_hits=3, per=1)
    with pytest.raises(RateLimited) as caught:
        await limit(redis, "probe", "1.2.3.4", max_hits=3, per=1)
    assert caught.value.headers["Retry-After"] == "1"
    await limit(redis, "probe", "5.6.7.8", max_hits=3, per=1)  # another client is not affected

    async def admitted_again():  # once the window has passed (a refused hit does not extend it)
        try:
            await limit(redis, "probe", "1.2.3.4", max_hits=3, per=1)
        except RateLimited:
            return False
        return True

    await wait_until(admitted_again, timeout=3)


@pytest.mark.parametrize(
    ("trust", "forwarded", "expected"),
    [
        (False, "10.0.0.1, 203.0.113.9", "127.0.0.1"),
        (True, "10.0.0.1, 203.0.113.9", "203.0.113.9"),
        (True, "10.0.0.1, 2001:db8::1", "2001:db8::1"),
        (True, "203.0.113.9, not-an-address", "127.0.0.1"),  # only an address the proxy appended counts
        (True, "", "127.0.0.1"),
    ],
)
async def test_forwarded_for_is_trusted_only_behind_a_proxy(aiohttp_client, settings, trust, forwarded, expected):
    async def whoami(request):
        return web.Response(text=client_ip(request))

    app = web.Application()
    app[SETTINGS] = settings.model_copy(update={"trust_proxy": trust})
    app.router.add_get("/", whoami)
    client = await aiohttp_client(TestServer(app))  # the app alone: no edge, which needs a whole Veza app
    resp = await client.get("/", headers={"X-Forwarded-For": forwarded})
    assert await resp.text() == expected


async def test_a_forwarded_for_that_is_not_utf8_is_not_a_500(aiohttp_client, settings):
    """Bytes that are not UTF-8 reach aiohttp's headers as lone surrogates, which Redis cannot encode."""
    client = await aiohttp_client(create_app(settings.model_copy(update={"trust_proxy": True})))
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    body = b'{"email": "a@example.com", "password": "whatever-it-is"}'
    writer.write(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Forwarded-For: \xff\xfe\r\n"
        b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert status_line.split()[1] == b"401"
