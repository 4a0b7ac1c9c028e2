"""A seller's public page: their profile and their products on sale, for anyone."""

import uuid

import pytest

from tests.factories import make_product, paid_order, register
from tests.users.test_deletion import delete_account

API = "/api/v1"


def seller_path(user: dict) -> str:
    return f"{API}/marketplace/sellers/{user['user']['id']}"


async def test_the_page_shows_the_profile_and_the_products_on_sale_newest_first(client):
    seller = await register(client)
    first = await make_product(client, seller, title="First", price_cents=1000)
    second = await make_product(client, seller, title="Second", price_cents=2000)
    archived = await make_product(client, seller, title="Archived")
    await client.delete(f"{API}/marketplace/products/{archived['id']}", headers=seller["headers"])
    await make_product(client, await register(client), title="Someone else's")
    buyers = [await register(client) for _ in range(2)]
    for buyer, rating in zip(buyers, (5, 4), strict=True):
        await paid_order(client, buyer, first)
        resp = await client.post(
            f"{API}/marketplace/products/{first['id']}/reviews", json={"rating": rating}, headers=buyer["headers"]
        )
        assert resp.status == 201

    resp = await client.get(seller_path(seller))
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "public, max-age=30"
    data = (await resp.json())["data"]
    profile = data["seller"]
    assert set(profile) == {"id", "username", "member_since", "sales_count", "review_count", "rating_avg"}
    assert (profile["id"], profile["username"]) == (seller["user"]["id"], seller["user"]["username"])
    assert profile["member_since"].endswith("Z")
    assert (profile["sales_count"], profile["review_count"], profile["rating_avg"]) == (2, 2, 4.5)
    assert [p["title"] for p in data["products"]] == ["Second", "First"]
    assert data["total"] == 2
    assert (
        data["products"][0] == (await (await client.get(f"{API}/marketplace/products/{second['id']}")).json())["data"]
    )

    paged = (await (await client.get(seller_path(seller), params={"limit": "1", "offset": "1"})).json())["data"]
    assert ([p["title"] for p in paged["products"]], paged["total"]) == (["First"], 2)
    signed_in = await client.get(seller_path(seller), headers=buyers[0]["headers"])
    assert await signed_in.read() == await resp.read()  # the page does not depend on who asks


async def test_a_seller_without_products_on_sale_still_has_a_page(client):
    seller = await register(client)
    product = await make_product(client, seller)
    await client.delete(f"{API}/marketplace/products/{product['id']}", headers=seller["headers"])
    data = (await (await client.get(seller_path(seller))).json())["data"]
    assert (data["products"], data["total"]) == ([], 0)
    assert (data["seller"]["sales_count"], data["seller"]["review_count"], data["seller"]["rating_avg"]) == (0, 0, None)


async def test_only_sellers_have_a_page(client):
    never_sold = await register(client)
    deleted = await register(client)
    await make_product(client, deleted)
    assert (await delete_account(client, deleted)).status == 202
    for path in (
        seller_path(never_sold),
        seller_path(deleted),
        f"{API}/marketplace/sellers/{uuid.uuid4()}",
        f"{API}/marketplace/sellers/not-a-uuid",
    ):
        resp = await client.get(path)
        assert resp.status == 404, path
        assert (await resp.json())["success"] is False


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"offset": "-1"}, {"offset": "1000001"}]
)
async def test_bad_paging_is_422(client, params):
    seller = await register(client)
    await make_product(client, seller)
    resp = await client.get(seller_path(seller), params=params)
    assert resp.status == 422
    assert (await resp.json())["code"]
