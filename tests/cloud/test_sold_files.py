"""A file that a product sells to its buyers cannot be deleted; one that nobody ordered can, with its product."""

import asyncio

import pytest

from tests.cloud.conftest import cloud_settings
from tests.cloud.helpers import FILES, stored_keys, table_counts, upload_ok, used_bytes
from tests.factories import paid_order, register
from veza.app import create_app
from veza.db import transaction
from veza.keys import DB

PRODUCTS = "/api/v1/marketplace/products"


async def listed(client, seller, file, title: str = "Night Drive") -> dict:
    body = {"title": title, "kind": "beat", "price_cents": 2999, "asset_file_id": file["id"]}
    resp = await client.post(PRODUCTS, json=body, headers=seller["headers"])
    assert resp.status == 201, await resp.text()
    return (await resp.json())["data"]


async def snapshot(client, seller) -> dict:
    """Everything a refused deletion must leave as it was."""
    db = client.app[DB]
    return {
        "tables": await table_counts(client.app),
        "blobs": await stored_keys(client.app),
        "used": await used_bytes(client.app, seller),
        "products": await db.fetch_all("SELECT id, status, asset_file_id FROM products ORDER BY id"),
        "licenses": await db.fetch_val("SELECT count(*) FROM licenses"),
    }


async def test_a_sold_file_is_409_and_nothing_changes(any_client):
    client = any_client
    seller, buyer = await register(client), await register(client)
    file = await upload_ok(client, seller, b"the master")
    product = await listed(client, seller, file)
    await paid_order(client, buyer, product)
    before = await snapshot(client, seller)

    resp = await client.delete(f"{FILES}/{file['id']}", headers=seller["headers"])
    assert resp.status == 409
    body = await resp.json()
    assert body["code"] == "file_sold"
    assert body["error"] == (
        'This file is sold as "Night Drive"; its buyers keep downloading it, so it cannot be deleted. '
        "Archive the product to stop selling it, or upload new content to the file as a new version."
    )
    assert await snapshot(client, seller) == before
    assert before["blobs"] != [] and before["used"] == len(b"the master")
    assert (await client.get(f"{FILES}/{file['id']}", headers=seller["headers"])).status == 200
    download = await client.get(f"{PRODUCTS}/{product['id']}/download", headers=buyer["headers"])
    assert download.status == 200


@pytest.mark.parametrize(
    ("order_status", "license_status"),
    [("refunded", "revoked"), ("completed", "revoked"), ("refund_pending", "active")],
)
async def test_a_license_of_any_state_keeps_the_file(client, order_status, license_status):
    seller, buyer = await register(client), await register(client)
    file = await upload_ok(client, seller, b"sold once")
    product = await listed(client, seller, file)
    order = await paid_order(client, buyer, product)
    db = client.app[DB]
    await db.execute("UPDATE orders SET status = %s WHERE id = %s", (order_status, order["id"]))
    await db.execute("UPDATE licenses SET status = %s WHERE order_id = %s", (license_status, order["id"]))
    before = await snapshot(client, seller)
    resp = await client.delete(f"{FILES}/{file['id']}", headers=seller["headers"])
    assert resp.status == 409
    assert (await resp.json())["code"] == "file_sold"
    assert await snapshot(client, seller) == before


async def test_an_order_still_awaiting_its_payment_keeps_the_file(client):
    """A pending order has no license yet; its payment would grant one for a file that must still be there."""
    seller, buyer = await register(client), await register(client)
    file = await upload_ok(client, seller, b"in a cart")
    product = await listed(client, seller, file)
    order = await paid_order(client, buyer, product)
    db = client.app[DB]
    await db.execute("DELETE FROM licenses WHERE order_id = %s", (order["id"],))
    await db.execute("UPDATE orders SET status = 'pending', paid_at = NULL WHERE id = %s", (order["id"],))
    resp = await client.delete(f"{FILES}/{file['id']}", headers=seller["headers"])
    assert resp.status == 409
    assert await db.fetch_val("SELECT count(*) FROM cloud_files") == 1


async def test_the_file_of_a_product_nobody_ordered_goes_with_that_product(any_client):
    client = any_client
    seller = await register(client)
    keep = await upload_ok(client, seller, b"keep")
    file = await upload_ok(client, seller, b"unsold")
    product = await listed(client, seller, file, title="Never Sold")
    archived = await listed(client, seller, file, title="Archived Too")
    assert (await client.delete(f"{PRODUCTS}/{archived['id']}", headers=seller["headers"])).status == 200

    resp = await client.delete(f"{FILES}/{file['id']}", headers=seller["headers"])
    assert resp.status == 200
    assert (await resp.json())["data"] == {"deleted": True}
    assert (await client.get(f"{FILES}/{file['id']}", headers=seller["headers"])).status == 404
    assert (await client.get(f"{PRODUCTS}/{product['id']}")).status == 404
    mine = (await (await client.get("/api/v1/sell/products", headers=seller["headers"])).json())["data"]
    assert mine == {"products": [], "total": 0}
    assert (await (await client.get(PRODUCTS)).json())["data"]["total"] == 0
    assert await used_bytes(client.app, seller) == len(b"keep")
    blobs = await stored_keys(client.app)
    assert len(blobs) == 1 and keep["id"] in blobs[0]


async def test_another_users_sold_file_is_404_and_not_named(client):
    seller, buyer, other = await register(client), await register(client), await register(client)
    file = await upload_ok(client, seller, b"the master")
    product = await listed(client, seller, file)
    await paid_order(client, buyer, product)
    resp = await client.delete(f"{FILES}/{file['id']}", headers=other["headers"])
    assert resp.status == 404
    assert "Night Drive" not in await resp.text()


async def test_the_seller_may_still_point_a_sold_product_at_another_file(client):
    seller, buyer = await register(client), await register(client)
    old = await upload_ok(client, seller, b"first master")
    new = await upload_ok(client, seller, b"second master")
    product = await listed(client, seller, old)
    await paid_order(client, buyer, product)

    resp = await client.patch(
        f"{PRODUCTS}/{product['id']}", json={"asset_file_id": new["id"]}, headers=seller["headers"]
    )
    assert resp.status == 200
    assert (await resp.json())["data"]["asset_file_id"] == new["id"]
    download = await client.get(f"{PRODUCTS}/{product['id']}/download", headers=buyer["headers"])
    assert await download.read() == b"second master"
    # the old file sells nothing now; the new one is sold
    assert (await client.delete(f"{FILES}/{old['id']}", headers=seller["headers"])).status == 200
    assert (await client.delete(f"{FILES}/{new['id']}", headers=seller["headers"])).status == 409


async def until_a_statement_waits_for_a_lock(db) -> None:
    """Poll PostgreSQL (5 s at most) until one of this database's statements waits for a lock."""
    for _ in range(1000):
        if await db.fetch_val(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ):
            return
        await asyncio.sleep(0.005)
    raise AssertionError("no statement came to wait for a lock")


async def test_a_deletion_waits_for_a_checkout_in_progress_and_then_sees_its_order(client):
    """An order being written holds the product; the deletion waits for it and, once it is committed, refuses."""
    seller, buyer = await register(client), await register(client)
    file = await upload_ok(client, seller, b"contested")
    product = await listed(client, seller, file)
    db = client.app[DB]
    async with transaction(db) as checkout:
        order_id = await checkout.fetch_val(
            "INSERT INTO orders (buyer_id, total_cents, currency, payment_method, gateway) "
            "VALUES (%s, 2999, 'EUR', 'card', 'sandbox') RETURNING id",
            (buyer["user"]["id"],),
        )
        await checkout.execute(
            "INSERT INTO order_items (order_id, product_id, seller_id, title, unit_price_cents, quantity, currency) "
            "VALUES (%s, %s, %s, 'Night Drive', 2999, 1, 'EUR')",
            (order_id, product["id"], seller["user"]["id"]),
        )
        deletion = asyncio.create_task(client.delete(f"{FILES}/{file['id']}", headers=seller["headers"]))
        await until_a_statement_waits_for_a_lock(db)  # the deletion, for the product's row
        assert not deletion.done()
    resp = await deletion
    assert resp.status == 409
    assert (await resp.json())["code"] == "file_sold"
    assert await db.fetch_val("SELECT count(*) FROM cloud_files") == 1


async def test_the_cached_catalog_drops_a_product_deleted_with_its_file(aiohttp_client, settings, tmp_path):
    client = await aiohttp_client(create_app(cloud_settings(settings, tmp_path, catalog_cache_seconds=60)))
    seller = await register(client)
    file = await upload_ok(client, seller, b"unsold")
    product = await listed(client, seller, file)
    assert (await (await client.get(PRODUCTS)).json())["data"]["total"] == 1
    assert (await client.get(f"{PRODUCTS}/{product['id']}")).status == 200
    assert (await client.delete(f"{FILES}/{file['id']}", headers=seller["headers"])).status == 200
    assert (await (await client.get(PRODUCTS)).json())["data"]["total"] == 0
    assert (await client.get(f"{PRODUCTS}/{product['id']}")).status == 404
