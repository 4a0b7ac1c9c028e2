"""The public pages' cache: shared renders, stale-while-refreshing, cleared by this process's writes."""

import asyncio
import logging

import orjson
import pytest

import veza.db
from tests.factories import PASSWORD, make_product, paid_order, register
from veza.app import create_app
from veza.db import _execute as execute
from veza.errors import NotFound
from veza.keys import CATALOG_CACHE, DB
from veza.marketplace.cache import PageCache
from veza.tasks import Tasks
from veza.users.queries import DELETED_NAME

API = "/api/v1"
PRODUCTS = f"{API}/marketplace/products"
ME = f"{API}/users/me"


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


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """Every SQL statement the app sends from here on, over any connection."""
    sent: list[str] = []

    async def counted(conn, sql, params, fetch):
        sent.append(sql)
        return await execute(conn, sql, params, fetch)

    monkeypatch.setattr(veza.db, "_execute", counted)
    return sent


async def assert_cached(client, path: str, statements: list[str], **params) -> bytes:
    """The page at `path` is served from the cache: its bytes again without a query, a 304 for its ETag,
    the same bytes for a signed-in caller, and the very bytes (and ETag) of a render without the cache."""
    first = await client.get(path, params=params)
    assert first.status == 200
    assert first.headers["Cache-Control"] == "public, max-age=30"
    body, etag = await first.read(), first.headers["ETag"]
    statements.clear()
    again = await client.get(path, params=params)
    assert (await again.read(), again.headers["ETag"]) == (body, etag)
    for known in (etag, f'"another", {etag}'):
        not_modified = await client.get(path, params=params, headers={"If-None-Match": known})
        assert (not_modified.status, await not_modified.read()) == (304, b"")
    assert statements == []
    someone = await register(client)
    signed_in = await client.get(path, params=params, headers=someone["headers"])
    assert (await signed_in.read(), signed_in.headers["ETag"]) == (body, etag)
    cache = client.app[CATALOG_CACHE]
    cache.ttl = 0  # rendered afresh, as with the cache off
    try:
        uncached = await client.get(path, params=params)
        assert (await uncached.read(), uncached.headers["ETag"]) == (body, etag)
    finally:
        cache.ttl = 60
    return body


async def review_as_new_buyer(client, product, rating: int) -> dict:
    buyer = await register(client)
    await paid_order(client, buyer, product)
    resp = await client.post(f"{PRODUCTS}/{product['id']}/reviews", json={"rating": rating}, headers=buyer["headers"])
    assert resp.status == 201, await resp.text()
    return buyer


async def test_reviews_are_served_from_the_cache_until_a_review_or_a_buyers_rename_clears_them(client, statements):
    product = await make_product(client, await register(client))
    buyer = await review_as_new_buyer(client, product, 5)
    path = f"{PRODUCTS}/{product['id']}/reviews"
    first = orjson.loads(await assert_cached(client, path, statements))["data"]
    assert [(r["buyer_id"], r["rating"]) for r in first["reviews"]] == [(buyer["user"]["id"], 5)]
    await assert_cached(client, path, statements, limit="1", offset="1")  # paging is part of the key

    await review_as_new_buyer(client, product, 3)
    shown = (await (await client.get(path)).json())["data"]
    assert ([r["rating"] for r in shown["reviews"]], shown["total"]) == ([3, 5], 2)
    assert (await (await client.get(path, params={"limit": "1", "offset": "1"})).json())["data"]["reviews"][0][
        "rating"
    ] == 5

    resp = await client.patch(ME, json={"username": "renamed_buyer"}, headers=buyer["headers"])
    assert resp.status == 200
    names = [r["buyer"]["username"] for r in (await (await client.get(path)).json())["data"]["reviews"]]
    assert names[1] == "renamed_buyer"

    assert (await client.delete(ME, json={"password": PASSWORD}, headers=buyer["headers"])).status == 202
    names = [r["buyer"]["username"] for r in (await (await client.get(path)).json())["data"]["reviews"]]
    assert names[1] == DELETED_NAME


async def test_the_seller_page_is_served_from_the_cache_until_a_write_clears_it(client, statements):
    seller = await register(client)
    product = await make_product(client, seller, title="First")
    path = f"{API}/marketplace/sellers/{seller['user']['id']}"
    assert orjson.loads(await assert_cached(client, path, statements))["data"]["total"] == 1
    await assert_cached(client, path, statements, limit="5")

    async def page() -> dict:
        return (await (await client.get(path)).json())["data"]

    await make_product(client, seller, title="Second")
    assert [p["title"] for p in (await page())["products"]] == ["Second", "First"]
    await client.patch(f"{PRODUCTS}/{product['id']}", json={"price_cents": 500}, headers=seller["headers"])
    assert (await page())["products"][1]["price_cents"] == 500
    await review_as_new_buyer(client, product, 4)
    assert ((await page())["seller"]["review_count"], (await page())["seller"]["rating_avg"]) == (1, 4.0)
    await client.delete(f"{PRODUCTS}/{product['id']}", headers=seller["headers"])
    assert [p["title"] for p in (await page())["products"]] == ["Second"]
    assert (await client.patch(ME, json={"username": "renamed_seller"}, headers=seller["headers"])).status == 200
    assert (await page())["seller"]["username"] == "renamed_seller"


async def test_a_deleted_sellers_page_is_gone_at_once(client, statements):
    seller = await register(client)
    await make_product(client, seller)
    path = f"{API}/marketplace/sellers/{seller['user']['id']}"
    await assert_cached(client, path, statements)
    assert (await client.delete(ME, json={"password": PASSWORD}, headers=seller["headers"])).status == 202
    assert (await client.get(path)).status == 404


@pytest.mark.parametrize("params", [{"limit": "20"}, {"sort": "price_asc", "limit": "20"}, {"search": "night"}])
async def test_every_sort_and_search_of_the_catalog_is_served_from_the_cache(client, statements, params):
    await make_product(client, await register(client), title="Night Drive")
    shown = orjson.loads(await assert_cached(client, PRODUCTS, statements, **params))["data"]
    assert shown["total"] == 1
