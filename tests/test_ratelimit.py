import asyncio

import pytest
from aiohttp import web

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
    await asyncio.sleep(1.1)
    await limit(redis, "probe", "1.2.3.4", max_hits=3, per=1)


@pytest.mark.parametrize(("trust", "expected"), [(False, "127.0.0.1"), (True, "203.0.113.9")])
async def test_forwarded_for_is_trusted_only_behind_a_proxy(aiohttp_client, settings, trust, expected):
    async def whoami(request):
        return web.Response(text=client_ip(request))

    app = web.Application()
    app[SETTINGS] = settings.model_copy(update={"trust_proxy": trust})
    app.router.add_get("/", whoami)
    client = await aiohttp_client(app)
    resp = await client.get("/", headers={"X-Forwarded-For": "10.0.0.1, 203.0.113.9"})
    assert await resp.text() == expected
