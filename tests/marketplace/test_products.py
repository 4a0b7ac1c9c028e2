"""Sellers list products; the public catalog finds, sorts and caches them."""

import uuid

import pytest

from tests.factories import make_product, register, upload_file
from veza.keys import DB

PRODUCTS = "/api/v1/marketplace/products"


async def test_a_first_product_makes_a_seller(client):
    user = await register(client)
    asset = await upload_file(client, user)
    resp = await client.post(
        PRODUCTS,
        json={
            "title": "Night Drive",
            "description": "Dark synthwave",
            "kind": "beat",
            "price_cents": 2999,
            "tags": ["Synth Wave", "synth-wave", "Dark"],
            "asset_file_id": asset["id"],
        },
        headers=user["headers"],
    )
    assert resp.status == 201
    product = (await resp.json())["data"]
    assert product["tags"] == ["synth-wave", "dark"]
    assert product["currency"] == "EUR"
    assert product["status"] == "active"
    assert product["seller"]["id"] == user["user"]["id"]
    assert product["asset_file_id"] == asset["id"]
    role = await client.app[DB].fetch_val("SELECT role FROM users WHERE id = %s", (user["user"]["id"],))
    assert role == "seller"


async def test_public_product_shows_seller_summary_and_rating(client):
    seller = await register(client)
    product = await make_product(client, seller)
    resp = await client.get(f"{PRODUCTS}/{product['id']}")
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert data["seller"] == {"id": seller["user"]["id"], "username": seller["user"]["username"]}
    assert data["rating_avg"] is None
    assert data["review_count"] == 0
    assert "asset_file_id" not in data
    assert "status" not in data


async def test_etag_and_304(client):
    seller = await register(client)
    await make_product(client, seller)
    first = await client.get(PRODUCTS)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=30"
    again = await client.get(PRODUCTS, headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag
    assert await again.read() == b""
    await make_product(client, seller, title="Another")
    changed = await client.get(PRODUCTS, headers={"If-None-Match": etag})
    assert changed.status == 200
    assert changed.headers["ETag"] != etag


async def test_search_by_words_prefixes_and_tags(client):
    seller = await register(client)
    await make_product(client, seller, title="Night Drive", description="synthwave for late drives")
    await make_product(client, seller, title="Morning Coffee", tags=["lo fi", "chill"])
    await make_product(client, seller, title="Trap Kit Vol 1", kind="sample_pack")

    async def titles(search):
        resp = await client.get(PRODUCTS, params={"search": search})
        assert resp.status == 200
        return sorted(p["title"] for p in (await resp.json())["data"]["products"])

    assert await titles("night") == ["Night Drive"]
    assert await titles("sYnTh") == ["Night Drive"]  # a prefix of a word in the description
    assert await titles("lo-fi") == ["Morning Coffee"]
    assert await titles("chi") == ["Morning Coffee"]
    assert await titles("trap kit") == ["Trap Kit Vol 1"]
    assert await titles("nothing-like-this") == []
    assert len(await titles("&|!():*'\\")) == 3  # nothing searchable left: the whole catalog


async def test_sorts(client):
    seller = await register(client)
    cheap = await make_product(client, seller, title="Cheap", price_cents=100)
    dear = await make_product(client, seller, title="Dear", price_cents=90000)
    mid = await make_product(client, seller, title="Mid", price_cents=5000)
    db = client.app[DB]
    await db.execute(
        "UPDATE products SET rating_avg = 4.5, review_count = 2, sales_count = 1 WHERE id = %s", (mid["id"],)
    )
    await db.execute(
        "UPDATE products SET rating_avg = 3.0, review_count = 9, sales_count = 7 WHERE id = %s", (cheap["id"],)
    )

    async def order(sort):
        resp = await client.get(PRODUCTS, params={"sort": sort})
        return [p["title"] for p in (await resp.json())["data"]["products"]]

    assert await order("newest") == ["Mid", "Dear", "Cheap"]
    assert await order("price_asc") == ["Cheap", "Mid", "Dear"]
    assert await order("price_desc") == ["Dear", "Mid", "Cheap"]
    assert await order("rating") == ["Mid", "Cheap", "Dear"]
    assert await order("popular") == ["Cheap", "Mid", "Dear"]
    assert dear["price_cents"] == 90000


async def test_paging_and_total(client):
    seller = await register(client)
    for n in range(5):
        await make_product(client, seller, title=f"P{n}")
    data = (await (await client.get(PRODUCTS, params={"limit": 2, "offset": 2})).json())["data"]
    assert data["total"] == 5
    assert [p["title"] for p in data["products"]] == ["P2", "P1"]


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "cheapest"},
        {"limit": "-1"},
        {"limit": "101"},
        {"limit": "99999999999999999999"},
        {"offset": "-5"},
        {"offset": "abc"},
        {"search": "x" * 10_000},
    ],
)
async def test_bad_catalog_queries_are_422(client, params):
    resp = await client.get(PRODUCTS, params=params)
    assert resp.status == 422
    assert (await resp.json())["success"] is False


@pytest.mark.parametrize(
    "changes",
    [
        {"price_cents": 0},
        {"price_cents": -5},
        {"price_cents": 10**12},
        {"price_cents": "12"},
        {"price_cents": 12.5},
        {"kind": "album"},
        {"currency": "XYZ"},
        {"title": ""},
        {"tags": ["x"] * 21},
        {"asset_file_id": "not-a-uuid"},
        {"seller_id": str(uuid.uuid4())},
    ],
)
async def test_invalid_products_are_422_and_nothing_is_listed(client, changes):
    seller = await register(client)
    asset = await upload_file(client, seller)
    body = {"title": "T", "kind": "beat", "price_cents": 100, "asset_file_id": asset["id"], **changes}
    resp = await client.post(PRODUCTS, json=body, headers=seller["headers"])
    assert resp.status == 422
    assert await client.app[DB].fetch_val("SELECT count(*) FROM products") == 0


async def test_another_users_file_cannot_be_the_asset(client):
    seller, other = await register(client), await register(client)
    foreign = await upload_file(client, other)
    resp = await client.post(
        PRODUCTS,
        json={"title": "Stolen", "kind": "beat", "price_cents": 100, "asset_file_id": foreign["id"]},
        headers=seller["headers"],
    )
    assert resp.status == 422
    assert (await resp.json())["details"][0]["field"] == "asset_file_id"
    resp = await client.post(
        PRODUCTS,
        json={"title": "Ghost", "kind": "beat", "price_cents": 100, "asset_file_id": str(uuid.uuid4())},
        headers=seller["headers"],
    )
    assert resp.status == 422
    role = await client.app[DB].fetch_val("SELECT role FROM users WHERE id = %s", (seller["user"]["id"],))
    assert role == "user"


async def test_update_and_archive_only_by_the_seller(client):
    seller, other = await register(client), await register(client)
    product = await make_product(client, seller)
    path = f"{PRODUCTS}/{product['id']}"
    assert (await client.patch(path, json={"price_cents": 1}, headers=other["headers"])).status == 404
    assert (await client.delete(path, headers=other["headers"])).status == 404
    resp = await client.patch(path, json={"price_cents": 1999, "tags": ["New Tag"]}, headers=seller["headers"])
    assert resp.status == 200
    assert (await resp.json())["data"]["price_cents"] == 1999
    assert (await resp.json())["data"]["tags"] == ["new-tag"]
    assert (await client.patch(path, json={"price_cents": 0}, headers=seller["headers"])).status == 422

    assert (await client.delete(path, headers=seller["headers"])).status == 200
    assert (await client.get(path)).status == 404
    assert (await (await client.get(PRODUCTS)).json())["data"]["total"] == 0
    mine = (await (await client.get("/api/v1/sell/products", headers=seller["headers"])).json())["data"]
    assert [p["status"] for p in mine["products"]] == ["archived"]
    archived = await client.get("/api/v1/sell/products?status=active", headers=seller["headers"])
    assert (await archived.json())["data"]["total"] == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", PRODUCTS),
        ("PATCH", f"{PRODUCTS}/6f1c1e5e-8a2b-4c3d-9e4f-0a1b2c3d4e5f"),
        ("DELETE", f"{PRODUCTS}/6f1c1e5e-8a2b-4c3d-9e4f-0a1b2c3d4e5f"),
        ("GET", "/api/v1/sell/products"),
    ],
)
async def test_seller_routes_need_a_token(client, method, path):
    assert (await client.request(method, path, json={})).status == 401


async def test_bad_product_ids_are_404(client):
    assert (await client.get(f"{PRODUCTS}/not-a-uuid")).status == 404
    assert (await client.get(f"{PRODUCTS}/{uuid.uuid4()}")).status == 404
