import uuid

import pytest

from tests.factories import register
from veza.notifications.service import notify

BASE = "/api/v1/notifications"


async def make_notes(client, user, count):
    for n in range(count):
        await notify(client.app, uuid.UUID(user["user"]["id"]), "test", f"Note {n}", data={"n": n})


async def test_list_newest_first_with_paging_and_unread_filter(client):
    user = await register(client)
    await make_notes(client, user, 3)
    resp = await client.get(f"{BASE}?limit=2", headers=user["headers"])
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert data["total"] == 3
    assert data["unread_count"] == 3
    assert [n["title"] for n in data["notifications"]] == ["Note 2", "Note 1"]
    first = data["notifications"][0]
    assert set(first) == {"id", "type", "title", "body", "data", "read_at", "created_at"}

    read = await client.post(f"{BASE}/{first['id']}/read", headers=user["headers"])
    assert read.status == 200
    assert (await read.json())["data"]["read_at"] is not None
    unread = (await (await client.get(f"{BASE}?unread=true", headers=user["headers"])).json())["data"]
    assert unread["total"] == 2
    assert first["id"] not in [n["id"] for n in unread["notifications"]]
    count = await client.get(f"{BASE}/unread-count", headers=user["headers"])
    assert (await count.json())["data"] == {"count": 2}


async def test_read_all(client):
    user = await register(client)
    await make_notes(client, user, 4)
    resp = await client.post(f"{BASE}/read-all", headers=user["headers"])
    assert (await resp.json())["data"] == {"updated": 4}
    assert (await (await client.get(f"{BASE}/unread-count", headers=user["headers"])).json())["data"]["count"] == 0
    resp = await client.post(f"{BASE}/read-all", headers=user["headers"])
    assert (await resp.json())["data"] == {"updated": 0}


async def test_another_users_notifications_are_invisible(client):
    alice, bob = await register(client), await register(client)
    await make_notes(client, alice, 1)
    listing = (await (await client.get(BASE, headers=bob["headers"])).json())["data"]
    assert listing == {"notifications": [], "total": 0, "unread_count": 0}
    alice_note = (await (await client.get(BASE, headers=alice["headers"])).json())["data"]["notifications"][0]
    resp = await client.post(f"{BASE}/{alice_note['id']}/read", headers=bob["headers"])
    assert resp.status == 404
    await client.post(f"{BASE}/read-all", headers=bob["headers"])
    assert (await (await client.get(f"{BASE}/unread-count", headers=alice["headers"])).json())["data"]["count"] == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", BASE),
        ("GET", f"{BASE}/unread-count"),
        ("POST", f"{BASE}/read-all"),
        ("POST", f"{BASE}/6f1c1e5e-8a2b-4c3d-9e4f-0a1b2c3d4e5f/read"),
    ],
)
async def test_notifications_need_a_token(client, method, path):
    assert (await client.request(method, path)).status == 401


async def test_bad_ids_and_queries(client):
    user = await register(client)
    assert (await client.post(f"{BASE}/not-a-uuid/read", headers=user["headers"])).status == 404
    assert (await client.post(f"{BASE}/{uuid.uuid4()}/read", headers=user["headers"])).status == 404
    for query in ("limit=0", "limit=1000", "offset=-1", "unread=maybe"):
        assert (await client.get(f"{BASE}?{query}", headers=user["headers"])).status == 422


async def test_a_rolled_back_notification_is_neither_stored_nor_published(client):
    from veza.db import transaction
    from veza.keys import DB

    user = await register(client)
    ws = await client.ws_connect(f"/api/v1/ws?token={user['access_token']}")
    await ws.send_json({"type": "subscribe", "channel": "notifications"})
    await ws.receive_json()
    with pytest.raises(RuntimeError):
        async with transaction(client.app[DB]) as tx:
            await notify(client.app, uuid.UUID(user["user"]["id"]), "test", "Never", tx=tx)
            raise RuntimeError("the surrounding work failed")
    await ws.send_json({"type": "ping"})
    assert await ws.receive_json() == {"type": "pong"}
    listing = (await (await client.get(BASE, headers=user["headers"])).json())["data"]
    assert listing["total"] == 0
    await ws.close()
