"""The warranty badge and calendar months, without a database; and the badge on the API's answers."""

from datetime import date, timedelta

import pytest

from tests.factories import register
from tests.gear.helpers import API, create_item
from veza.gear.warranty import add_months, utc_today, warranty_badge

TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 3, 31), 1, date(2024, 4, 30)),
        (date(2024, 11, 15), 2, date(2025, 1, 15)),
        (date(2024, 12, 31), 1200, date(2124, 12, 31)),
    ],
)
def test_add_months_is_calendar_wise(start, months, expected):
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("expires_at", "lifetime", "status", "days_left"),
    [
        (None, False, "none", None),
        (None, True, "lifetime", None),
        (date(2020, 1, 1), True, "lifetime", None),
        (TODAY - timedelta(days=1), False, "expired", -1),
        (TODAY, False, "expiring_soon", 0),
        (TODAY + timedelta(days=30), False, "expiring_soon", 30),
        (TODAY + timedelta(days=31), False, "active", 31),
    ],
)
def test_badge_status_in_each_case(expires_at, lifetime, status, days_left):
    badge = warranty_badge(expires_at, lifetime, TODAY)
    assert badge == {"status": status, "expires_at": expires_at, "days_left": days_left}


@pytest.mark.parametrize(
    ("fields", "status", "days_left"),
    [
        ({}, "none", None),
        ({"lifetime_warranty": True}, "lifetime", None),
        ({"warranty_expires_at": -5}, "expired", -5),
        ({"warranty_expires_at": 10}, "expiring_soon", 10),
        ({"warranty_expires_at": 400}, "active", 400),
    ],
)
async def test_every_answer_carries_the_badge(client, fields, status, days_left):
    user = await register(client)
    today = utc_today()
    if "warranty_expires_at" in fields:
        fields = {"warranty_expires_at": str(today + timedelta(days=fields["warranty_expires_at"]))}
    item = await create_item(client, user, **fields)
    expected = {
        "status": status,
        "expires_at": fields.get("warranty_expires_at"),
        "days_left": days_left,
    }
    assert item["warranty"] == expected
    resp = await client.get(f"{API}/{item['id']}", headers=user["headers"])
    assert (await resp.json())["data"]["warranty"] == expected
    resp = await client.get(API, headers=user["headers"])
    assert (await resp.json())["data"]["items"][0]["warranty"] == expected
    resp = await client.patch(f"{API}/{item['id']}", json={"notes": "checked"}, headers=user["headers"])
    assert (await resp.json())["data"]["warranty"] == expected


async def test_warranty_months_count_from_the_purchase_date(client):
    user = await register(client)
    item = await create_item(client, user, purchase_date="2024-01-31", warranty_months=1)
    assert item["warranty_expires_at"] == "2024-02-29"
    assert item["warranty"]["status"] == "expired"
    assert item["warranty"]["expires_at"] == "2024-02-29"
