"""Creating gear items and repairs through the API, for the gear tests."""

from __future__ import annotations

from typing import Any

API = "/api/v1/inventory/gear"


async def create_item(client, user: dict[str, Any], **fields: Any) -> dict[str, Any]:
    resp = await client.post(API, json={"name": "SM7B", **fields}, headers=user["headers"])
    assert resp.status == 201, await resp.text()
    return (await resp.json())["data"]


async def add_repair(client, user: dict[str, Any], item_id: str, **fields: Any) -> dict[str, Any]:
    body = {"repair_date": "2026-02-15", "description": "New capsule", "cost_cents": 8500, **fields}
    resp = await client.post(f"{API}/{item_id}/repairs", json=body, headers=user["headers"])
    assert resp.status == 201, await resp.text()
    return (await resp.json())["data"]


async def invalid_fields(resp) -> set[str]:
    """The fields a 422 names."""
    assert resp.status == 422, await resp.text()
    body = await resp.json()
    assert body["code"] == "validation_error"
    return {detail["field"] for detail in body["details"]}
