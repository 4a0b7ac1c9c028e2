"""Helpers of the users tests: an account with data in every domain."""

from __future__ import annotations

from typing import Any

from tests.factories import make_product, paid_order, upload_file
from tests.gear.helpers import add_repair, create_item
from tests.gear.helpers_docs import upload_document


async def seed(client, user: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Rows of `user`'s in every domain: a product `other` buys, an order of theirs reviewed, another
    refunded, a stream, a cloud file, a gear item with a repair and a document. Returns what was made."""
    made: dict[str, Any] = {"file": await upload_file(client, user, "mine.wav")}
    made["product"] = await make_product(client, user, title="My product")
    made["sold"] = await paid_order(client, other, made["product"])
    theirs = await make_product(client, other, title="Their product")
    refunded = await make_product(client, other, title="Refunded")
    made["order"] = await paid_order(client, user, theirs)
    made["refunded_order"] = await paid_order(client, user, refunded)
    resp = await client.post(
        f"/api/v1/marketplace/products/{theirs['id']}/reviews", json={"rating": 4}, headers=user["headers"]
    )
    assert resp.status == 201, await resp.text()
    resp = await client.post(
        f"/api/v1/marketplace/orders/{made['refunded_order']['id']}/refund",
        json={"reason": "Not as described"},
        headers=user["headers"],
    )
    assert resp.status in (200, 201, 202), await resp.text()
    resp = await client.post("/api/v1/live/streams", json={"title": "Late set"}, headers=user["headers"])
    assert resp.status == 201, await resp.text()
    made["stream"] = (await resp.json())["data"]
    made["item"] = await create_item(client, user, name="Juno-106")
    await add_repair(client, user, made["item"]["id"])
    assert (await upload_document(client, user, made["item"]["id"])).status == 201
    return made
