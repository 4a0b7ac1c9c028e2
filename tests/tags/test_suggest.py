"""Tag suggestions: counts kept by the database, prefix matches first, then similar tags."""

import pytest

from tests.factories import make_product, register
from veza.keys import DB

SUGGEST = "/api/v1/tags/suggest"


async def usage(client, name):
    return await client.app[DB].fetch_val("SELECT usage_count FROM tags WHERE name = %s", (name,))


async def test_usage_counts_follow_products_streams_and_files(client):
    seller = await register(client)
    product = await make_product(client, seller, tags=["Hip Hop", "trap"])
    await client.post("/api/v1/live/streams", json={"title": "Live", "tags": ["hip hop"]}, headers=seller["headers"])
    assert await usage(client, "hip-hop") == 2
    assert await usage(client, "trap") == 1
    await client.patch(
        f"/api/v1/marketplace/products/{product['id']}", json={"tags": ["drill"]}, headers=seller["headers"]
    )
    assert await usage(client, "hip-hop") == 1
    assert await usage(client, "trap") == 0
    assert await usage(client, "drill") == 1


async def test_prefix_matches_by_usage_then_similar_without_duplicates(client):
    db = client.app[DB]
    await db.execute(
        "INSERT INTO tags (name, usage_count) VALUES ('hip-hop', 50), ('hiphop', 10), ('hipster', 3), "
        "('chip-tune', 7), ('hop', 2), ('unused-hip', 0), ('jazz', 40)"
    )
    user = await register(client)
    resp = await client.get(SUGGEST, params={"q": "hip"}, headers=user["headers"])
    assert resp.status == 200
    suggestions = (await resp.json())["data"]["suggestions"]
    assert suggestions[:3] == ["hip-hop", "hiphop", "hipster"]
    assert "jazz" not in suggestions
    assert len(suggestions) == len(set(suggestions))
    assert "unused-hip" not in suggestions

    resp = await client.get(SUGGEST, params={"q": "Hip Ho", "limit": 1}, headers=user["headers"])
    assert (await resp.json())["data"]["suggestions"] == ["hip-hop"]
    resp = await client.get(SUGGEST, params={"q": "hiphopp"}, headers=user["headers"])
    assert "hiphop" in (await resp.json())["data"]["suggestions"]  # similar, not a prefix


async def test_like_wildcards_in_the_query_are_literal(client):
    await client.app[DB].execute(
        "INSERT INTO tags (name, usage_count) VALUES ('100%-beats', 1), ('a_b', 1), ('axb', 1)"
    )
    user = await register(client)
    resp = await client.get(SUGGEST, params={"q": "a_"}, headers=user["headers"])
    assert (await resp.json())["data"]["suggestions"][0] == "a_b"
    assert "axb" not in (await resp.json())["data"]["suggestions"][:1]
    resp = await client.get(SUGGEST, params={"q": "%"}, headers=user["headers"])
    assert resp.status == 200


async def test_suggest_needs_a_token(client):
    assert (await client.get(SUGGEST, params={"q": "hip"})).status == 401


@pytest.mark.parametrize(
    "params", [{}, {"q": ""}, {"q": "x" * 51}, {"q": "hip", "limit": 0}, {"q": "hip", "limit": 51}]
)
async def test_bad_suggest_queries_are_422(client, params):
    user = await register(client)
    assert (await client.get(SUGGEST, params=params, headers=user["headers"])).status == 422
