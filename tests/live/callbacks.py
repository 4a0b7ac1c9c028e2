"""nginx-rtmp's callbacks as the app receives them, without nginx (tests/live/rtmp.py runs the real one)."""

from __future__ import annotations

from typing import Any

SECRET = "rtmp-callback-secret-for-tests"


async def callback(client, event: str, name: str, secret: str = SECRET, **fields: str):
    """A callback as nginx-rtmp sends it (`clientid`, `addr`, `call` name the session and the event)."""
    data = {"app": "live", "name": name, **fields}
    return await client.post(f"/api/v1/live/rtmp/{event}?secret={secret}", data=data, allow_redirects=False)


async def key_of(client, user: dict[str, Any]) -> dict[str, Any]:
    resp = await client.get("/api/v1/live/streams/me/key", headers=user["headers"])
    assert resp.status == 200
    return (await resp.json())["data"]
