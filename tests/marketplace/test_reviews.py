"""Reviews: buyers with an active license review once; the product's rating follows exactly."""

import asyncio
import uuid

import pytest

from tests.factories import make_product, paid_order, register
from veza.app import create_app
from veza.keys import DB

PRODUCTS = "/api/v1/marketplace/products"


def reviews_path(product) -> str:
    return f"{PRODUCTS}/{product['id']}/reviews"


async def review(client, buyer, product, rating: int = 5, comment: str = "Great!"):
    return await client.post(
        reviews_path(product), json={"rating": rating, "comment": comment}, headers=buyer["headers"]
    )


async def bought(client, product, count: int = 1) -> list[dict]:
    """`count` new users, each holding a completed order of the product."""
    buyers = []
    for _ in range(count):
        buyer = await register(client)
        buyer["order"] = await paid_order(client, buyer, product)
        buyers.append(buyer)
    return buyers


async def rating_row(client, product) -> dict:
    return await client.app[DB].fetch_one(
        "SELECT rating_avg::float AS rating_avg, review_count FROM products WHERE id = %s", (product["id"],)
    )


async def test_a_buyer_reviews_what_they_bought(client):
    seller = await register(client)
    product = await make_product(client, seller)
    (buyer,) = await bought(client, product)
    resp = await review(client, buyer, product, 4, "Amazing track!")
    assert resp.status == 201
    data = (await resp.json())["data"]
    assert set(data) == {"id", "product_id", "buyer_id", "order_id", "rating", "comment", "created_at", "buyer"}
    assert data["product_id"] == product["id"]
    assert data["buyer_id"] == buyer["user"]["id"]
    assert data["order_id"] == buyer["order"]["id"]
    assert (data["rating"], data["comment"]) == (4, "Amazing track!")
    assert data["created_at"].endswith("Z")
    assert data["buyer"] == {"id": buyer["user"]["id"], "username": buyer["user"]["username"]}
    assert await rating_row(client, product) == {"rating_avg": 4.0, "review_count": 1}


async def test_the_comment_is_optional_and_may_be_2000_characters(client):
    product = await make_product(client, await register(client))
    first, second = await bought(client, product, 2)
    resp = await client.post(reviews_path(product), json={"rating": 3}, headers=first["headers"])
    assert resp.status == 201
    assert (await resp.json())["data"]["comment"] == ""
    resp = await review(client, second, product, 5, "é" * 2000)
    assert resp.status == 201
    assert (await resp.json())["data"]["comment"] == "é" * 2000


async def test_rating_average_and_count_are_exact_and_shown_in_the_catalog(client):
    seller = await register(client)
    product = await make_product(client, seller, title="Rated")
    await make_product(client, seller, title="Unrated")
    buyers = await bought(client, product, 3)
    for buyer, rating in zip(buyers, (5, 4, 4), strict=True):
        assert (await review(client, buyer, product, rating)).status == 201
    assert await rating_row(client, product) == {"rating_avg": 4.33, "review_count": 3}

    shown = (await (await client.get(f"{PRODUCTS}/{product['id']}")).json())["data"]
    assert (shown["rating_avg"], shown["review_count"]) == (4.33, 3)
    catalog = (await (await client.get(PRODUCTS, params={"sort": "rating"})).json())["data"]["products"]
    assert [(p["title"], p["rating_avg"], p["review_count"]) for p in catalog] == [
        ("Rated", 4.33, 3),
        ("Unrated", None, 0),
    ]


async def test_the_cached_catalog_shows_a_new_review_at_once(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings.model_copy(update={"catalog_cache_seconds": 60})))
    product = await make_product(client, await register(client))
    (buyer,) = await bought(client, product)
    before = (await (await client.get(PRODUCTS)).json())["data"]["products"][0]
    page_before = (await (await client.get(f"{PRODUCTS}/{product['id']}")).json())["data"]
    assert (before["rating_avg"], page_before["review_count"]) == (None, 0)
    assert (await review(client, buyer, product, 2)).status == 201
    after = (await (await client.get(PRODUCTS)).json())["data"]["products"][0]
    page_after = (await (await client.get(f"{PRODUCTS}/{product['id']}")).json())["data"]
    assert (after["rating_avg"], after["review_count"]) == (2.0, 1)
    assert (page_after["rating_avg"], page_after["review_count"]) == (2.0, 1)


async def test_the_list_is_public_newest_first_and_paged(client):
    product = await make_product(client, await register(client))
    buyers = await bought(client, product, 3)
    for n, buyer in enumerate(buyers, 1):
        assert (await review(client, buyer, product, n, f"review {n}")).status == 201

    resp = await client.get(reviews_path(product), params={"limit": "2"})
    assert resp.status == 200
    page = (await resp.json())["data"]
    assert page["total"] == 3
    assert [r["comment"] for r in page["reviews"]] == ["review 3", "review 2"]
    assert page["reviews"][0]["buyer"] == {"id": buyers[2]["user"]["id"], "username": buyers[2]["user"]["username"]}
    assert page["reviews"][0]["order_id"] == buyers[2]["order"]["id"]
    rest = (await (await client.get(reviews_path(product), params={"limit": "2", "offset": "2"})).json())["data"]
    assert ([r["comment"] for r in rest["reviews"]], rest["total"]) == (["review 1"], 3)
    default = (await (await client.get(reviews_path(product))).json())["data"]
    assert (len(default["reviews"]), default["total"]) == (3, 3)


async def test_a_product_without_reviews_lists_none(client):
    product = await make_product(client, await register(client))
    resp = await client.get(reviews_path(product))
    assert resp.status == 200
    assert (await resp.json())["data"] == {"reviews": [], "total": 0}


async def test_an_archived_product_keeps_its_reviews_and_its_buyers_may_still_review(client):
    seller = await register(client)
    product = await make_product(client, seller)
    first, second = await bought(client, product, 2)
    assert (await review(client, first, product, 5)).status == 201
    assert (await client.delete(f"{PRODUCTS}/{product['id']}", headers=seller["headers"])).status == 200
    assert (await review(client, second, product, 3)).status == 201
    page = (await (await client.get(reviews_path(product))).json())["data"]
    assert [r["rating"] for r in page["reviews"]] == [3, 5]
    assert await rating_row(client, product) == {"rating_avg": 4.0, "review_count": 2}


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "101"}, {"offset": "-1"}, {"limit": "x"}])
async def test_bad_list_queries_are_422(client, params):
    product = await make_product(client, await register(client))
    resp = await client.get(reviews_path(product), params=params)
    assert resp.status == 422
    assert (await resp.json())["code"] == "validation_error"


async def test_unknown_products_and_bad_ids_are_404(client):
    buyer = await register(client)
    for path in (f"{PRODUCTS}/{uuid.uuid4()}/reviews", f"{PRODUCTS}/not-a-uuid/reviews"):
        assert (await client.get(path)).status == 404
        resp = await client.post(path, json={"rating": 5}, headers=buyer["headers"])
        assert resp.status == 404
        assert (await resp.json())["code"] == "not_found"


async def test_writing_needs_a_token(client):
    product = await make_product(client, await register(client))
    resp = await client.post(reviews_path(product), json={"rating": 5})
    assert resp.status == 401
    assert (await resp.json())["code"] == "unauthorized"


@pytest.mark.parametrize(
    "body",
    [
        {"rating": 0},
        {"rating": 6},
        {"rating": "x"},
        {"rating": "5"},
        {"rating": 4.5},
        {"rating": True},
        {"comment": "no rating"},
        {"rating": 5, "comment": "x" * 2001},
        {"rating": 5, "comment": "nul \u0000 inside"},
        {"rating": 5, "comment": 7},
        {"rating": 5, "order_id": str(uuid.uuid4())},
    ],
)
async def test_invalid_reviews_are_422_and_nothing_is_written(client, body):
    product = await make_product(client, await register(client))
    (buyer,) = await bought(client, product)
    resp = await client.post(reviews_path(product), json=body, headers=buyer["headers"])
    assert resp.status == 422
    assert (await resp.json())["code"] == "validation_error"
    assert await client.app[DB].fetch_val("SELECT count(*) FROM reviews") == 0
    assert await rating_row(client, product) == {"rating_avg": None, "review_count": 0}


async def test_a_nul_in_the_comment_names_the_field(client):
    product = await make_product(client, await register(client))
    (buyer,) = await bought(client, product)
    resp = await review(client, buyer, product, 5, "a\u0000b")
    assert (await resp.json())["details"] == [
        {"field": "comment", "message": "contains a character that cannot be stored (NUL or a lone surrogate)"}
    ]


async def test_only_buyers_review_and_the_seller_never(client):
    seller = await register(client)
    product = await make_product(client, seller)
    stranger = await register(client)
    resp = await review(client, stranger, product)
    assert resp.status == 403
    body = await resp.json()
    assert (body["code"], body["error"]) == ("not_a_buyer", "Only buyers of this product can review it")

    resp = await review(client, seller, product)
    assert resp.status == 403
    body = await resp.json()
    assert (body["code"], body["error"]) == ("own_product", "You cannot review your own product")
    # a buyer of another product of the seller's has no license for this one
    (buyer_of_other,) = await bought(client, await make_product(client, seller, title="Other"))
    assert (await review(client, buyer_of_other, product)).status == 403
    assert await client.app[DB].fetch_val("SELECT count(*) FROM reviews") == 0


@pytest.mark.parametrize(
    ("order_status", "license_status"),
    [("completed", "revoked"), ("refunded", "revoked"), ("refund_pending", "active"), ("pending", "active")],
)
async def test_a_license_that_is_revoked_or_not_from_a_completed_order_is_403(client, order_status, license_status):
    product = await make_product(client, await register(client))
    (buyer,) = await bought(client, product)
    db = client.app[DB]
    await db.execute("UPDATE orders SET status = %s WHERE id = %s", (order_status, buyer["order"]["id"]))
    await db.execute("UPDATE licenses SET status = %s WHERE order_id = %s", (license_status, buyer["order"]["id"]))
    resp = await review(client, buyer, product)
    assert resp.status == 403
    assert (await resp.json())["code"] == "not_a_buyer"
    assert await rating_row(client, product) == {"rating_avg": None, "review_count": 0}


async def test_the_review_names_the_completed_order_whose_license_is_active(client):
    product = await make_product(client, await register(client))
    (buyer,) = await bought(client, product)
    refunded = buyer["order"]["id"]
    await client.app[DB].execute("UPDATE orders SET status = 'refunded' WHERE id = %s", (refunded,))
    await client.app[DB].execute("UPDATE licenses SET status = 'revoked' WHERE order_id = %s", (refunded,))
    again = await paid_order(client, buyer, product)
    resp = await review(client, buyer, product)
    assert resp.status == 201
    assert (await resp.json())["data"]["order_id"] == again["id"]


async def test_a_second_review_is_409_and_changes_nothing(client):
    product = await make_product(client, await register(client))
    (buyer,) = await bought(client, product)
    assert (await review(client, buyer, product, 5, "first")).status == 201
    resp = await review(client, buyer, product, 1, "second")
    assert resp.status == 409
    body = await resp.json()
    assert (body["code"], body["error"]) == ("already_reviewed", "You have already reviewed this product")
    rows = await client.app[DB].fetch_all("SELECT rating, comment FROM reviews")
    assert rows == [{"rating": 5, "comment": "first"}]
    assert await rating_row(client, product) == {"rating_avg": 5.0, "review_count": 1}


async def test_two_concurrent_reviews_by_one_buyer_make_one(client):
    product = await make_product(client, await register(client))
    (buyer,) = await bought(client, product)
    answers = await asyncio.gather(*(review(client, buyer, product, rating) for rating in (2, 4)))
    assert sorted(resp.status for resp in answers) == [201, 409]
    assert await client.app[DB].fetch_val("SELECT count(*) FROM reviews") == 1
    (created,) = [(await resp.json())["data"] for resp in answers if resp.status == 201]
    assert await rating_row(client, product) == {"rating_avg": float(created["rating"]), "review_count": 1}


async def test_concurrent_reviews_by_many_buyers_count_exactly(client):
    product = await make_product(client, await register(client))
    ratings = [5, 4, 4, 3, 5, 1, 2, 5]
    buyers = await bought(client, product, len(ratings))
    answers = await asyncio.gather(
        *(review(client, buyer, product, rating) for buyer, rating in zip(buyers, ratings, strict=True))
    )
    assert [resp.status for resp in answers] == [201] * len(ratings)
    # 29 / 8 = 3.625, rounded half away from zero by numeric's round()
    assert await rating_row(client, product) == {"rating_avg": 3.63, "review_count": 8}
