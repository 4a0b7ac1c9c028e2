"""The catalog's page cache: shared renders, stale-while-refreshing, cleared by this process's writes."""

import asyncio
import logging

import pytest

from tests.factories import make_product, register
from veza.app import create_app
from veza.errors import NotFound
from veza.keys import DB
from veza.marketplace.cache import PageCache
from veza.tasks import Tasks

PRODUCTS = "/api/v1/marketplace/products"


async def test_concurrent_misses_render_once():
    cache = PageCache(ttl=10)
    renders = 0

    async def render():
        nonlocal renders
        renders += 1
        await asyncio.sleep(0.05)
        return b"body", '"etag"'

    pages = await asyncio.gather(*(cache.get("k", render) for _ in range(20)))
    assert renders == 1
    assert set(pages) == {(b"body", '"etag"')}


async def test_an_expired_page_is_served_stale_while_one_refresh_runs():
    cache = PageCache(ttl=0.05)
    versions = iter([b"v1", b"v2", b"v3"])

    async def render():
        await asyncio.sleep(0.05)
        return next(versions), '"e"'

    assert await cache.get("k", render) == (b"v1", '"e"')
    await asyncio.sleep(0.06)
    stale = await asyncio.gather(*(cache.get("k", render) for _ in range(5)))
    assert {body for body, _ in stale} == {b"v1"}
    await asyncio.sleep(0.07)
    assert (await cache.get("k", render))[0] == b"v2"  # exactly one refresh happened


async def test_a_failed_render_is_not_cached():
    cache = PageCache(ttl=10)

    async def broken():
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        await cache.get("k", broken)

    async def fine():
        return b"ok", '"e"'

    assert await cache.get("k", fine) == (b"ok", '"e"')


async def test_size_is_bounded():
    cache = PageCache(ttl=10, max_entries=3)
    rendered = []

    async def render(key):
        rendered.append(key)
        return b"x", '"e"'

    for key in range(10):
        await cache.get(key, lambda key=key: render(key))
    rendered.clear()
    for key in (7, 8, 9, 6):  # the three last used are kept; 6 was dropped, and keeping it drops 7
        await cache.get(key, lambda key=key: render(key))
    assert rendered == [6]
    for key in (9, 6, 7):
        await cache.get(key, lambda key=key: render(key))
    assert rendered == [6, 7]


@pytest.fixture
def app(settings):
    return create_app(settings.model_copy(update={"catalog_cache_seconds": 60}))


async def test_the_catalog_is_served_from_the_cache_and_writes_clear_it(client):
    seller = await register(client)
    product = await make_product(client, seller, title="Cached")
    first = await (await client.get(PRODUCTS)).json()
    # a change the app did not make (another process, say) is not seen until the page expires
    await client.app[DB].execute("UPDATE products SET title = 'Changed behind its back'")
    assert await (await client.get(PRODUCTS)).json() == first
    # a change made through this process clears the cache at once
    resp = await client.patch(f"{PRODUCTS}/{product['id']}", json={"title": "Renamed"}, headers=seller["headers"])
    assert resp.status == 200
    titles = [p["title"] for p in (await (await client.get(PRODUCTS)).json())["data"]["products"]]
    assert titles == ["Renamed"]
    await client.delete(f"{PRODUCTS}/{product['id']}", headers=seller["headers"])
    assert (await (await client.get(PRODUCTS)).json())["data"]["total"] == 0
    assert (await client.get(f"{PRODUCTS}/{product['id']}")).status == 404


async def test_a_failed_render_goes_to_its_waiters_unlogged_and_the_next_request_renders_again(caplog):
    tasks = Tasks()
    cache = PageCache(ttl=10, tasks=tasks)
    calls = 0

    async def render():
        nonlocal calls
        calls += 1
        if calls == 1:
            raise NotFound("Product not found")
        return b"body", '"etag"'

    with caplog.at_level(logging.ERROR, logger="veza.tasks"):
        results = await asyncio.gather(cache.get("k", render), cache.get("k", render), return_exceptions=True)
    assert [type(result) for result in results] == [NotFound, NotFound]
    assert caplog.records == []  # a 404 is an answer, not a server error
    assert len(tasks) == 0
    assert await cache.get("k", render) == (b"body", '"etag"')
