"""The repair log of a gear item: add, list newest first, delete; the item's totals follow it."""

import uuid

import pytest

from tests.factories import register
from tests.gear.helpers import API, add_repair, create_item, invalid_fields
from veza.keys import DB


async def test_add_and_list_newest_first(client):
    user = await register(client)
    item = await create_item(client, user)
    body = {
        "repair_date": "2026-02-15",
        "description": "New capsule",
        "cost_cents": 8500,
        "currency": "EUR",
        "provider": "Shure service",
    }
    resp = await client.post(f"{API}/{item['id']}/repairs", json=body, headers=user["headers"])
    assert resp.status == 201, await resp.text()
    first = (await resp.json())["data"]
    assert set(first) == {
        "id",
        "item_id",
        "repair_date",
        "description",
        "cost_cents",
        "currency",
        "provider",
        "created_at",
    }
    assert {key: first[key] for key in body} == body
    assert first["item_id"] == item["id"]
    older = await add_repair(client, user, item["id"], repair_date="2024-02-29", cost_cents=1500)
    newest = await add_repair(client, user, item["id"], repair_date="2026-06-01", cost_cents=100, currency="USD")
    resp = await client.get(f"{API}/{item['id']}/repairs", headers=user["headers"])
    data = (await resp.json())["data"]
    assert [repair["id"] for repair in data["repairs"]] == [newest["id"], first["id"], older["id"]]
    assert data["total"] == 3
    resp = await client.get(f"{API}/{item['id']}/repairs", params={"limit": 1, "offset": 1}, headers=user["headers"])
    data = (await resp.json())["data"]
    assert ([repair["id"] for repair in data["repairs"]], data["total"]) == ([first["id"]], 3)
    resp = await client.get(f"{API}/{item['id']}", headers=user["headers"])
    assert (await resp.json())["data"]["repair_total_cents"] == {"EUR": 10000, "USD": 100}


async def test_delete_a_repair(client):
    user = await register(client)
    item = await create_item(client, user)
    gone = await add_repair(client, user, item["id"], cost_cents=300)
    kept = await add_repair(client, user, item["id"], cost_cents=200)
    resp = await client.delete(f"{API}/{item['id']}/repairs/{gone['id']}", headers=user["headers"])
    assert resp.status == 200
    assert (await resp.json())["data"] == {"deleted": True}
    resp = await client.get(f"{API}/{item['id']}/repairs", headers=user["headers"])
    assert [repair["id"] for repair in (await resp.json())["data"]["repairs"]] == [kept["id"]]
    resp = await client.get(f"{API}/{item['id']}", headers=user["headers"])
    assert (await resp.json())["data"]["repair_total_cents"] == {"EUR": 200}
    resp = await client.delete(f"{API}/{item['id']}/repairs/{gone['id']}", headers=user["headers"])
    assert resp.status == 404


async def test_another_users_item_and_repairs_are_not_found(client):
    owner, other = await register(client), await register(client)
    item = await create_item(client, owner)
    repair = await add_repair(client, owner, item["id"])
    mine = await create_item(client, other, name="Other's")
    repairs = f"{API}/{item['id']}/repairs"
    resp = await client.post(repairs, json={"repair_date": "2026-01-01", "description": "x"}, headers=other["headers"])
    assert resp.status == 404
    assert (await client.get(repairs, headers=other["headers"])).status == 404
    assert (await client.delete(f"{repairs}/{repair['id']}", headers=other["headers"])).status == 404
    # a repair named under another item, even one of the caller's own, is not found either
    resp = await client.delete(f"{API}/{mine['id']}/repairs/{repair['id']}", headers=other["headers"])
    assert resp.status == 404
    resp = await client.delete(f"{API}/{item['id']}/repairs/not-a-uuid", headers=owner["headers"])
    assert resp.status == 404
    resp = await client.get(f"{API}/{uuid.uuid4()}/repairs", headers=owner["headers"])
    assert resp.status == 404
    assert await client.app[DB].fetch_val("SELECT count(*) FROM gear_repairs") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "x"}, "repair_date"),
        ({"repair_date": "2026-01-01"}, "description"),
        ({"repair_date": "2026-01-01", "description": "  "}, "description"),
        ({"repair_date": "2026-01-01", "description": "x" * 2001}, "description"),
        ({"repair_date": "2025-02-29", "description": "x"}, "repair_date"),
        ({"repair_date": "2026-02-30", "description": "x"}, "repair_date"),
        ({"repair_date": "1899-12-31", "description": "x"}, "repair_date"),
        ({"repair_date": "2201-01-01", "description": "x"}, "repair_date"),
        ({"repair_date": 1700000000, "description": "x"}, "repair_date"),
        ({"repair_date": "2026-01-01", "description": "x", "cost_cents": -1}, "cost_cents"),
        ({"repair_date": "2026-01-01", "description": "x", "cost_cents": 1.5}, "cost_cents"),
        ({"repair_date": "2026-01-01", "description": "x", "currency": "usd"}, "currency"),
        ({"repair_date": "2026-01-01", "description": "x", "provider": "p" * 201}, "provider"),
        ({"repair_date": "2026-01-01", "description": "x", "parts": []}, "parts"),
    ],
)
async def test_invalid_repairs_are_refused_and_nothing_is_written(client, body, field):
    user = await register(client)
    item = await create_item(client, user)
    resp = await client.post(f"{API}/{item['id']}/repairs", json=body, headers=user["headers"])
    assert field in await invalid_fields(resp)
    assert await client.app[DB].fetch_val("SELECT count(*) FROM gear_repairs") == 0


async def test_a_leap_day_repair_is_fine(client):
    user = await register(client)
    item = await create_item(client, user)
    repair = await add_repair(client, user, item["id"], repair_date="2024-02-29")
    assert repair["repair_date"] == "2024-02-29"
