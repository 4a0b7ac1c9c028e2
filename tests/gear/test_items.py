"""Gear items: create, list with search and filters, get, change, delete (repairs, documents and blobs go too)."""

import uuid
from datetime import timedelta

import pytest

from tests.factories import register
from tests.gear.helpers import API, add_repair, create_item, invalid_fields
from veza.cloud import queries as cloud_queries
from veza.gear.warranty import utc_today
from veza.keys import DB, STORAGE


async def count(client, table: str) -> int:
    return await client.app[DB].fetch_val(f"SELECT count(*) FROM {table}")


async def test_create_answers_the_item_with_its_badge_and_totals(client):
    user = await register(client)
    body = {
        "name": " Shure SM7B ",
        "brand": "Shure",
        "model": "SM7B",
        "category": "microphone",
        "serial_number": "SN-123",
        "purchase_date": "2024-02-29",
        "price_cents": 39900,
        "currency": "USD",
        "purchased_from": "Thomann",
        "notes": "Vocal mic",
        "tags": ["Studio Gear", "studio  gear", "  Vocals "],
        "warranty_months": 24,
    }
    resp = await client.post(API, json=body, headers=user["headers"])
    assert resp.status == 201, await resp.text()
    item = (await resp.json())["data"]
    assert set(item) == {
        "id", "owner_id", "name", "brand", "model", "category", "serial_number", "purchase_date", "price_cents",
        "currency", "purchased_from", "notes", "tags", "warranty_expires_at", "lifetime_warranty", "warranty",
        "repair_total_cents", "created_at", "updated_at",
    }  # fmt: skip
    assert item["owner_id"] == user["user"]["id"]
    assert item["name"] == "Shure SM7B"
    assert item["tags"] == ["studio-gear", "vocals"]
    assert item["purchase_date"] == "2024-02-29"
    assert item["warranty_expires_at"] == "2026-02-28"
    assert item["lifetime_warranty"] is False
    assert item["price_cents"] == 39900
    assert item["currency"] == "USD"
    assert item["repair_total_cents"] == {}
    resp = await client.get(f"{API}/{item['id']}", headers=user["headers"])
    assert (await resp.json())["data"] == item


async def test_defaults(client):
    user = await register(client)
    item = await create_item(client, user, name="Cable")
    assert (item["brand"], item["category"], item["currency"], item["tags"]) == ("", "other", "EUR", [])
    assert (item["purchase_date"], item["price_cents"], item["warranty_expires_at"]) == (None, None, None)
    assert item["warranty"] == {"status": "none", "expires_at": None, "days_left": None}


async def test_every_route_needs_a_token(client):
    some = uuid.uuid4()
    for method, path in [
        ("POST", API),
        ("GET", API),
        ("GET", f"{API}/{some}"),
        ("PATCH", f"{API}/{some}"),
        ("DELETE", f"{API}/{some}"),
        ("POST", f"{API}/{some}/repairs"),
        ("GET", f"{API}/{some}/repairs"),
        ("DELETE", f"{API}/{some}/repairs/{some}"),
    ]:
        resp = await client.request(method, path, json={"name": "x"})
        assert resp.status == 401, (method, path)
        assert (await resp.json())["code"] == "unauthorized"


async def test_another_users_item_is_not_found(client):
    owner, other = await register(client), await register(client)
    item = await create_item(client, owner)
    path = f"{API}/{item['id']}"
    assert (await client.get(path, headers=other["headers"])).status == 404
    assert (await client.patch(path, json={"name": "Mine"}, headers=other["headers"])).status == 404
    assert (await client.delete(path, headers=other["headers"])).status == 404
    resp = await client.get(API, headers=other["headers"])
    assert (await resp.json())["data"] == {"items": [], "total": 0}
    resp = await client.get(path, headers=owner["headers"])
    assert (await resp.json())["data"]["name"] == "SM7B"
    for bad in (f"{API}/not-a-uuid", f"{API}/{uuid.uuid4()}"):
        assert (await client.get(bad, headers=owner["headers"])).status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "Mic", "brand": "b" * 101}, "brand"),
        ({"name": "Mic", "category": ""}, "category"),
        ({"name": "Mic", "notes": "n" * 5001}, "notes"),
        ({"name": "Mic", "purchase_date": "2024-13-01"}, "purchase_date"),
        ({"name": "Mic", "purchase_date": "2025-02-29"}, "purchase_date"),
        ({"name": "Mic", "purchase_date": "yesterday"}, "purchase_date"),
        ({"name": "Mic", "purchase_date": 20240101}, "purchase_date"),
        ({"name": "Mic", "purchase_date": "1899-12-31"}, "purchase_date"),
        ({"name": "Mic", "purchase_date": "2201-01-01"}, "purchase_date"),
        ({"name": "Mic", "warranty_expires_at": "2201-01-01"}, "warranty_expires_at"),
        ({"name": "Mic", "purchase_date": "2024-05-01", "warranty_expires_at": "2024-04-30"}, "warranty_expires_at"),
        ({"name": "Mic", "purchase_date": "2024-05-01", "warranty_months": 0}, "warranty_months"),
        ({"name": "Mic", "purchase_date": "2024-05-01", "warranty_months": 1201}, "warranty_months"),
        ({"name": "Mic", "warranty_months": 12}, "warranty_months"),
        (
            {"name": "Mic", "purchase_date": "2024-05-01", "warranty_months": 12, "warranty_expires_at": "2025-05-01"},
            "warranty_months",
        ),
        ({"name": "Mic", "purchase_date": "2200-06-01", "warranty_months": 12}, "warranty_months"),
        ({"name": "Mic", "price_cents": -1}, "price_cents"),
        ({"name": "Mic", "price_cents": 10.5}, "price_cents"),
        ({"name": "Mic", "price_cents": "100"}, "price_cents"),
        ({"name": "Mic", "currency": "eur"}, "currency"),
        ({"name": "Mic", "currency": "EURO"}, "currency"),
        ({"name": "Mic", "tags": ["ok"] * 21}, "tags"),
        ({"name": "Mic", "tags": [" "]}, "tags.0"),
        ({"name": "Mic", "lifetime_warranty": "yes"}, "lifetime_warranty"),
        ({"name": "Mic", "color": "black"}, "color"),
        ({"name": "Mic\x00"}, "name"),
    ],
)
async def test_invalid_input_is_refused_and_nothing_is_written(client, body, field):
    user = await register(client)
    resp = await client.post(API, json=body, headers=user["headers"])
    assert field in await invalid_fields(resp)
    assert await count(client, "gear_items") == 0


async def test_leap_day_and_the_range_ends_are_accepted(client):
    user = await register(client)
    item = await create_item(
        client, user, purchase_date="1900-01-01", warranty_expires_at="2200-12-31", lifetime_warranty=False
    )
    assert (item["purchase_date"], item["warranty_expires_at"]) == ("1900-01-01", "2200-12-31")
    item = await create_item(client, user, purchase_date="2024-02-29", warranty_expires_at="2024-02-29")
    assert item["warranty_expires_at"] == "2024-02-29"


async def test_patch_changes_only_what_it_names(client):
    user = await register(client)
    item = await create_item(client, user, brand="Shure", notes="old", tags=["a"])
    resp = await client.patch(
        f"{API}/{item['id']}", json={"notes": "new", "tags": ["Live Rig"]}, headers=user["headers"]
    )
    assert resp.status == 200, await resp.text()
    changed = (await resp.json())["data"]
    assert (changed["notes"], changed["tags"], changed["brand"], changed["name"]) == (
        "new",
        ["live-rig"],
        "Shure",
        "SM7B",
    )
    assert changed["updated_at"] > item["updated_at"]


async def test_patch_validates_the_merged_item(client):
    user = await register(client)
    item = await create_item(client, user, purchase_date="2024-05-01", warranty_expires_at="2025-05-01")
    path = f"{API}/{item['id']}"
    resp = await client.patch(path, json={"warranty_expires_at": "2024-04-30"}, headers=user["headers"])
    assert await invalid_fields(resp) == {"warranty_expires_at"}
    resp = await client.patch(path, json={"purchase_date": "2025-06-01"}, headers=user["headers"])
    assert await invalid_fields(resp) == {"warranty_expires_at"}
    resp = await client.patch(path, json={"name": None}, headers=user["headers"])
    assert await invalid_fields(resp) == {"name"}
    resp = await client.patch(path, json={"purchase_date": "2025-02-29"}, headers=user["headers"])
    assert await invalid_fields(resp) == {"purchase_date"}
    resp = await client.get(path, headers=user["headers"])
    unchanged = (await resp.json())["data"]
    assert (unchanged["purchase_date"], unchanged["warranty_expires_at"]) == ("2024-05-01", "2025-05-01")


async def test_patch_months_replace_the_expiry_and_count_from_the_merged_purchase_date(client):
    user = await register(client)
    item = await create_item(client, user, purchase_date="2024-01-31", warranty_expires_at="2030-01-01")
    path = f"{API}/{item['id']}"
    resp = await client.patch(path, json={"warranty_months": 1}, headers=user["headers"])
    assert (await resp.json())["data"]["warranty_expires_at"] == "2024-02-29"
    resp = await client.patch(path, json={"warranty_months": None, "notes": "kept"}, headers=user["headers"])
    assert (await resp.json())["data"]["warranty_expires_at"] == "2024-02-29"  # no months: the expiry stays
    resp = await client.patch(path, json={"purchase_date": None, "warranty_expires_at": None}, headers=user["headers"])
    assert (await resp.json())["data"]["warranty"] == {"status": "none", "expires_at": None, "days_left": None}
    resp = await client.patch(path, json={"warranty_months": 6}, headers=user["headers"])
    assert await invalid_fields(resp) == {"warranty_months"}


async def test_list_is_newest_first_and_paged(client):
    user = await register(client)
    names = [(await create_item(client, user, name=f"Item {n}"))["name"] for n in range(5)]
    resp = await client.get(API, params={"limit": 2, "offset": 1}, headers=user["headers"])
    data = (await resp.json())["data"]
    assert [item["name"] for item in data["items"]] == names[::-1][1:3]
    assert data["total"] == 5
    resp = await client.get(API, params={"limit": 0}, headers=user["headers"])
    assert await invalid_fields(resp) == {"limit"}


async def names_found(client, user, **params) -> list[str]:
    resp = await client.get(API, params=params, headers=user["headers"])
    assert resp.status == 200, await resp.text()
    data = (await resp.json())["data"]
    assert data["total"] == len(data["items"])
    return sorted(item["name"] for item in data["items"])


async def test_search_covers_name_brand_model_serial_and_notes(client):
    user = await register(client)
    await create_item(client, user, name="Studio monitor", category="monitor")
    await create_item(client, user, name="Mic A", brand="Neumann", category="microphone")
    await create_item(client, user, name="Mic B", model="U87 Ai", category="microphone")
    await create_item(client, user, name="Interface", serial_number="XZ-99", notes="100% reliable_ish")
    other = await register(client)
    await create_item(client, other, name="Neumann too", brand="Neumann")
    assert await names_found(client, user, search="MONITOR") == ["Studio monitor"]
    assert await names_found(client, user, search="neumann") == ["Mic A"]
    assert await names_found(client, user, search="u87") == ["Mic B"]
    assert await names_found(client, user, search="xz-9") == ["Interface"]
    assert await names_found(client, user, search="100%") == ["Interface"]
    assert await names_found(client, user, search="e_f") == []  # the underscore matches only itself (not "erf")
    assert await names_found(client, user, search="%") == ["Interface"]
    assert await names_found(client, user, category="microphone") == ["Mic A", "Mic B"]
    assert await names_found(client, user, category="microphone", search="neumann") == ["Mic A"]
    assert await names_found(client, user, category="guitar") == []


async def test_warranty_filters(client):
    user = await register(client)
    today = utc_today()
    await create_item(client, user, name="none")
    await create_item(client, user, name="lifetime", lifetime_warranty=True)
    await create_item(client, user, name="expired", warranty_expires_at=str(today - timedelta(days=1)))
    await create_item(client, user, name="today", warranty_expires_at=str(today))
    await create_item(client, user, name="in 30 days", warranty_expires_at=str(today + timedelta(days=30)))
    await create_item(client, user, name="in 31 days", warranty_expires_at=str(today + timedelta(days=31)))
    assert await names_found(client, user, warranty="none") == ["none"]
    assert await names_found(client, user, warranty="expired") == ["expired"]
    assert await names_found(client, user, warranty="expiring") == ["in 30 days", "today"]
    assert await names_found(client, user, warranty="active") == ["in 30 days", "in 31 days", "lifetime", "today"]
    resp = await client.get(API, params={"warranty": "soon"}, headers=user["headers"])
    assert await invalid_fields(resp) == {"warranty"}


async def store_document(client, user, item_id: str, data: bytes) -> str:
    """A document row and its blob, as the document upload leaves them (and its bytes counted in the quota)."""
    key = f"gear/{uuid.uuid4()}"

    async def chunks():
        yield data

    await client.app[STORAGE].put(key, chunks())
    db = client.app[DB]
    await db.execute(
        """
        INSERT INTO gear_documents (item_id, owner_id, type, filename, content_type, size_bytes, storage_key)
        VALUES (%s, %s, 'invoice', 'invoice.pdf', 'application/pdf', %s, %s)
        """,
        (item_id, user["user"]["id"], len(data), key),
    )
    await cloud_queries.lock_usage(db, user["user"]["id"])
    await cloud_queries.add_used(db, user["user"]["id"], len(data))
    return key


async def test_delete_takes_repairs_documents_blobs_and_quota_with_it(client):
    user = await register(client)
    kept = await create_item(client, user, name="Kept")
    kept_key = await store_document(client, user, kept["id"], b"k" * 100)
    item = await create_item(client, user)
    await add_repair(client, user, item["id"])
    await add_repair(client, user, item["id"], cost_cents=100)
    keys = [await store_document(client, user, item["id"], data) for data in (b"a" * 1000, b"b" * 234)]
    db, storage = client.app[DB], client.app[STORAGE]
    assert await cloud_queries.used_bytes(db, user["user"]["id"]) == 1334

    resp = await client.delete(f"{API}/{item['id']}", headers=user["headers"])
    assert resp.status == 200
    assert (await resp.json())["data"] == {"deleted": True}
    assert await db.fetch_val("SELECT count(*) FROM gear_items WHERE id = %s", (item["id"],)) == 0
    assert await count(client, "gear_repairs") == 0
    assert await db.fetch_val("SELECT count(*) FROM gear_documents WHERE item_id = %s", (item["id"],)) == 0
    assert [await storage.exists(key) for key in keys] == [False, False]
    assert await cloud_queries.used_bytes(db, user["user"]["id"]) == 100
    assert await storage.exists(kept_key)
    assert (await client.get(f"{API}/{kept['id']}", headers=user["headers"])).status == 200
    assert (await client.delete(f"{API}/{item['id']}", headers=user["headers"])).status == 404


async def test_delete_of_an_item_without_documents_leaves_the_quota_alone(client):
    user = await register(client)
    item = await create_item(client, user)
    resp = await client.delete(f"{API}/{item['id']}", headers=user["headers"])
    assert resp.status == 200
    assert await count(client, "gear_items") == 0
    assert await client.app[DB].fetch_val("SELECT count(*) FROM cloud_usage") == 0
