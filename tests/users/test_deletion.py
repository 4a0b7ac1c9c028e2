"""Account deletion: DELETE /users/me, then the worker's erasure of everything the account held."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import aiohttp

from tests.factories import (
    PASSWORD,
    connected_seller,
    make_product,
    make_user,
    paid_order,
    run_burst_worker,
    upload_file,
)
from tests.payments.helpers import worker_settings
from tests.realtime.helpers import closed_with
from tests.users.helpers import seed
from veza.keys import DB, STORAGE
from veza.storage.queries import BLOB_COLUMNS
from veza.users import deletion
from veza.users.queries import billing_party

ME = "/api/v1/users/me"
# The records others still need: they keep pointing at the deleted account, which names nobody now.
KEPT = {
    "users",  # the placeholder itself
    "orders",
    "order_items",
    "licenses",
    "invoices",
    "seller_transfers",
    "refunds",
    "products",  # sold ones, archived
    "cloud_files",  # the file a sold product's buyers download
    "cloud_file_versions",  # its one version left, whose storage key holds the owner's id
    "webhook_events",  # the payment provider's messages as received (their metadata names the buyer's id)
    "connect_accounts",  # pays out sales still in flight, takes refunded transfers back
}
# The sandbox gateway's own books stand for the payment provider's systems, not Veza's.
GATEWAY_BOOKS = "sandbox_"


async def delete_account(client, user: dict[str, Any], password: str = PASSWORD, **kwargs: Any):
    return await client.delete(ME, json={"password": password}, headers=user["headers"], **kwargs)


async def tables_naming(client, needle: str) -> set[str]:
    """The tables with a row whose text holds `needle` (any case)."""
    db = client.app[DB]
    tables = [
        row["table_name"]
        for row in await db.fetch_all(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
    ]
    found = set()
    for table in tables:
        if table.startswith(GATEWAY_BOOKS) or table == "alembic_version":
            continue
        if await db.fetch_val(f"SELECT EXISTS (SELECT 1 FROM {table} t WHERE t::text ILIKE %s)", (f"%{needle}%",)):
            found.add(table)
    return found


async def blobs(client) -> set[str]:
    keys = set()
    for prefix in BLOB_COLUMNS:
        keys |= {item.key async for item in client.app[STORAGE].scan(prefix)}
    return keys


async def blobs_of(client, user: dict[str, Any]) -> set[str]:
    """Every blob the user's own rows name: cloud versions, gear documents, exports."""
    rows = await client.app[DB].fetch_all(
        """
        SELECT v.storage_key FROM cloud_file_versions v JOIN cloud_files f ON f.id = v.file_id WHERE f.user_id = %(u)s
        UNION SELECT storage_key FROM gear_documents WHERE owner_id = %(u)s
        UNION SELECT storage_key FROM data_exports WHERE user_id = %(u)s AND storage_key IS NOT NULL
        """,
        {"u": user["user"]["id"]},
    )
    return {row["storage_key"] for row in rows}


async def login(client, user: dict[str, Any]) -> int:
    resp = await client.post("/api/v1/auth/login", json={"email": user["user"]["email"], "password": PASSWORD})
    return resp.status


async def put_content(client, user: dict[str, Any], file_id: str, content: bytes) -> None:
    form = aiohttp.FormData()
    form.add_field("file", content, filename="take2.wav", content_type="audio/wav")
    resp = await client.put(f"/api/v1/cloud/files/{file_id}/content", data=form, headers=user["headers"])
    assert resp.status == 200, await resp.text()


async def test_deleting_an_account_leaves_only_anonymised_records_and_buyers_keep_their_downloads(client):
    alice = await connected_seller(client, await make_user(client))
    bob, carol = await make_user(client), await make_user(client)
    mine = await seed(client, alice, bob)  # bob bought alice's product
    theirs = await seed(client, bob, carol)
    sold_file = mine["product"]["asset_file_id"]
    await put_content(client, alice, sold_file, b"RIFF take two WAVE")  # buyers now download version 2
    resp = await client.post(f"/api/v1/cloud/files/{mine['file']['id']}/share", headers=alice["headers"])
    assert resp.status == 200, await resp.text()
    assert (await client.post(f"{ME}/export", headers=alice["headers"])).status == 202
    await run_burst_worker(worker_settings(client))  # payouts, invoices, the refund, the export
    db = client.app[DB]
    assert await db.fetch_val("SELECT count(*) FROM invoices WHERE storage_key IS NOT NULL") >= 3
    alice_blobs, bob_blobs = await blobs_of(client, alice), await blobs_of(client, bob)
    kept_blob = await db.fetch_val(
        "SELECT v.storage_key FROM cloud_file_versions v JOIN cloud_files f ON f.id = v.file_id"
        " AND v.version = f.current_version WHERE f.id = %s",
        (sold_file,),
    )
    assert len(alice_blobs) == 5 and kept_blob in alice_blobs  # 2 files (one of 2 versions), a document, an export
    all_before = await blobs(client)
    ws = await client.ws_connect(f"/api/v1/ws?token={alice['access_token']}")
    await ws.send_json({"type": "subscribe", "channel": "notifications"})
    await ws.receive_json(timeout=5)

    resp = await delete_account(client, alice)
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["data"] == {"status": "deleted", "erasure": "queued"}
    # At once: no session, no login, no socket; the products are off the catalog.
    assert await closed_with(ws) == 4401
    assert (await client.get(ME, headers=alice["headers"])).status == 401
    assert await login(client, alice) == 401
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": alice["refresh_token"]})
    assert refreshed.status == 401
    assert (await client.get(f"/api/v1/marketplace/products/{mine['product']['id']}")).status == 404

    await run_burst_worker(worker_settings(client))

    assert await db.fetch_val("SELECT erased_at IS NOT NULL FROM users WHERE id = %s", (alice["user"]["id"],))
    remaining = await blobs(client)
    assert alice_blobs - remaining == alice_blobs - {kept_blob}  # only the sold version stays
    assert bob_blobs <= remaining
    assert all_before - remaining == alice_blobs - {kept_blob}  # nobody else lost a blob (invoices included)
    assert await tables_naming(client, alice["user"]["id"]) <= KEPT
    assert await tables_naming(client, alice["user"]["username"]) == set()
    assert await tables_naming(client, alice["user"]["email"]) == set()
    assert await db.fetch_val("SELECT count(*) FROM cloud_files WHERE user_id = %s", (alice["user"]["id"],)) == 1
    assert await db.fetch_val("SELECT count(*) FROM cloud_file_versions WHERE file_id = %s", (sold_file,)) == 1

    # The buyer still downloads what they bought, and their invoice, which now shows a deleted seller.
    resp = await client.get(f"/api/v1/marketplace/products/{mine['product']['id']}/download", headers=bob["headers"])
    assert resp.status == 200
    assert await resp.read() == b"RIFF take two WAVE"
    resp = await client.get(f"/api/v1/marketplace/orders/{mine['sold']['id']}/invoice", headers=bob["headers"])
    assert resp.status == 200 and (await resp.read()).startswith(b"%PDF")
    rerendered = await db.fetch_val(
        "SELECT i.rendered_at > u.deleted_at FROM invoices i, users u WHERE i.order_id = %s AND u.id = %s",
        (mine["sold"]["id"], alice["user"]["id"]),
    )
    assert rerendered
    assert await billing_party(db, alice["user"]["id"]) == {"username": "deleted user", "email": ""}
    # Bob's product lost alice's review and its rating; bob's own trades are whole.
    assert (
        await db.fetch_val(
            "SELECT review_count FROM products WHERE id = %s", (mine["order"]["items"][0]["product_id"],)
        )
        == 0
    )
    resp = await client.get(
        f"/api/v1/marketplace/products/{theirs['product']['id']}/download", headers=carol["headers"]
    )
    assert resp.status == 200
    # The name and email are free again.
    again = await client.post(
        "/api/v1/auth/register",
        json={"username": alice["user"]["username"], "email": alice["user"]["email"], "password": PASSWORD},
    )
    assert again.status == 201, await again.text()


async def test_the_seller_of_an_order_sees_a_deleted_user_as_its_buyer(client):
    seller = await connected_seller(client, await make_user(client))
    buyer = await make_user(client)
    product = await make_product(client, seller)
    order = await paid_order(client, buyer, product)
    assert (await delete_account(client, buyer)).status == 202
    await run_burst_worker(worker_settings(client))
    resp = await client.get(f"/api/v1/marketplace/orders/{order['id']}", headers=seller["headers"])
    assert resp.status == 200, await resp.text()
    assert buyer["user"]["username"] not in await resp.text()


async def test_a_seller_with_transfers_to_settle_gets_409_and_nothing_changes(client):
    seller, buyer = await make_user(client), await make_user(client)  # never onboarded: the transfer waits
    product = await make_product(client, seller)
    await paid_order(client, buyer, product)
    resp = await delete_account(client, seller)
    assert resp.status == 409
    assert (await resp.json())["code"] == "transfers_unsettled"
    assert (await client.get(ME, headers=seller["headers"])).status == 200
    assert await login(client, seller) == 200
    listed = await client.get(f"/api/v1/marketplace/products/{product['id']}")
    assert listed.status == 200


async def test_the_password_is_needed_and_tries_are_limited(client):
    user = await make_user(client)
    assert (await client.delete(ME, json={"password": PASSWORD})).status == 401
    for body in ({}, {"password": ""}, {"password": "x" * 129}, {"password": 5}, {"password": PASSWORD, "x": 1}):
        resp = await client.delete(ME, json=body, headers=user["headers"])
        assert resp.status == 422, body
    for _ in range(deletion.ATTEMPTS_PER_HOUR):
        resp = await delete_account(client, user, "not my password")
        assert (resp.status, (await resp.json())["code"]) == (422, "password_incorrect")
    limited = await delete_account(client, user)
    assert limited.status == 429 and int(limited.headers["Retry-After"]) > 0
    assert (await client.get(ME, headers=user["headers"])).status == 200
    assert await client.app[DB].fetch_val("SELECT count(*) FROM users WHERE deleted_at IS NOT NULL") == 0


async def test_an_interrupted_erasure_resumes_and_the_account_never_logs_in_meanwhile(client):
    user = await make_user(client)
    for name in ("a.wav", "b.wav", "c.wav"):
        await upload_file(client, user, name)
    storage = client.app[STORAGE]
    deleted: list[str] = []
    original = type(storage).delete

    async def fail_after_one(self, key):
        if deleted:
            raise OSError("storage unreachable")
        deleted.append(key)
        await original(self, key)

    own = await blobs_of(client, user)
    assert len(own) == 3 and own <= await blobs(client)
    assert (await delete_account(client, user)).status == 202
    type(storage).delete = fail_after_one  # the worker builds its own storage of the same class
    try:
        await run_burst_worker(worker_settings(client))
    finally:
        type(storage).delete = original
    db = client.app[DB]
    assert len(deleted) == 1
    assert await db.fetch_val("SELECT erased_at FROM users WHERE id = %s", (user["user"]["id"],)) is None
    assert await login(client, user) == 401
    assert await db.fetch_val("SELECT count(*) FROM cloud_files") == 2  # the first file finished, blob and rows

    assert await deletion.requeue_unfinished(client.app) == 0  # not yet past the job's timeout
    await db.execute("UPDATE users SET deleted_at = deleted_at - %s", (timedelta(seconds=deletion.SWEEP_AFTER + 60),))
    assert await deletion.requeue_unfinished(client.app) == 1
    await run_burst_worker(worker_settings(client))
    assert await db.fetch_val("SELECT erased_at IS NOT NULL FROM users WHERE id = %s", (user["user"]["id"],))
    assert await db.fetch_val("SELECT count(*) FROM cloud_files") == 0
    assert own & await blobs(client) == set()
    assert await deletion.erase_account(client.app, uuid.UUID(user["user"]["id"])) is False  # done: nothing to do


async def test_a_live_stream_ends_when_its_streamer_deletes_the_account(client):
    user = await make_user(client)
    resp = await client.post("/api/v1/live/streams", json={"title": "Last set"}, headers=user["headers"])
    stream = (await resp.json())["data"]
    await client.app[DB].execute(
        "UPDATE live_streams SET is_live = true, started_at = now() WHERE id = %s", (stream["id"],)
    )
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "subscribe", "channel": f"live:{stream['id']}"})
    assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
    assert (await delete_account(client, user)).status == 202
    await run_burst_worker(worker_settings(client))
    event = await ws.receive_json(timeout=5)
    assert (event["event"], event["data"]["id"], event["data"]["is_live"]) == ("stream.ended", stream["id"], False)
    assert (await client.get(f"/api/v1/live/streams/{stream['id']}")).status == 404
    await ws.close()
