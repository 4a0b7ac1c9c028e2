"""End to end: ffmpeg publishes to a real nginx-rtmp, whose callbacks reach the app over TCP."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse

from tests.factories import register
from tests.live import rtmp
from veza.app import create_app

SECRET = "e2e-callback-secret"
EVENT_TIMEOUT = 20
QUIET_SECONDS = 3

needs_rtmp = pytest.mark.skipif(rtmp.missing() is not None, reason=rtmp.missing() or "")


@pytest.fixture
def app(settings):
    return create_app(settings.model_copy(update={"rtmp_callback_secret": SECRET}))


@pytest.fixture
async def nginx(client, tmp_path) -> AsyncIterator[rtmp.Nginx]:
    async with rtmp.running_nginx(tmp_path, f"http://{client.host}:{client.port}", SECRET) as server:
        yield server


async def my_key(client, user: dict[str, Any]) -> dict[str, Any]:
    resp = await client.get("/api/v1/live/streams/me/key", headers=user["headers"])
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]


async def get_stream(client, stream_id: str) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/live/streams/{stream_id}")
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]


async def subscribe(ws: ClientWebSocketResponse, channel: str) -> None:
    await ws.send_json({"type": "subscribe", "channel": channel})
    assert await ws.receive_json(timeout=5) == {"type": "subscribed", "channel": channel}


async def next_event(ws: ClientWebSocketResponse) -> dict[str, Any]:
    message = await ws.receive_json(timeout=EVENT_TIMEOUT)
    assert message["type"] == "event", message
    return message


async def events_about(ws: ClientWebSocketResponse, stream_id: str, seconds: float) -> list[dict[str, Any]]:
    """The events about `stream_id` within `seconds` (other suites sharing Redis publish on `live` too)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    events = []
    while (left := deadline - loop.time()) > 0:
        try:
            message = await ws.receive_json(timeout=left)
        except TimeoutError:
            break
        if isinstance(message.get("data"), dict) and message["data"].get("id") == stream_id:
            events.append(message)
    return events


def assert_refused(code: int, stderr: str, nginx: rtmp.Nginx, name: str) -> None:
    assert code != 0, stderr
    assert "Input/output error" in stderr, stderr
    log = nginx.log()
    assert f"publish: name='{name}'" in log
    assert "notify: publish '" in log


@needs_rtmp
async def test_valid_key_goes_live_and_offline(client, nginx):
    key = await my_key(client, await register(client))
    channel = f"live:{key['stream_id']}"
    async with client.ws_connect("/api/v1/ws") as ws:
        await subscribe(ws, channel)
        ffmpeg = await rtmp.start_push(nginx.url(key["stream_key"]), seconds=3)

        started = await next_event(ws)
        assert (started["channel"], started["event"]) == (channel, "stream.started")
        assert started["data"]["id"] == key["stream_id"]
        assert started["data"]["is_live"] is True
        assert (await get_stream(client, key["stream_id"]))["is_live"] is True

        ended = await next_event(ws)
        assert (ended["channel"], ended["event"]) == (channel, "stream.ended")
        assert ended["data"]["is_live"] is False
        code, stderr = await rtmp.finish(ffmpeg)
        assert code == 0, stderr

    stream = await get_stream(client, key["stream_id"])
    assert stream["is_live"] is False
    assert datetime.fromisoformat(stream["ended_at"]) > datetime.fromisoformat(stream["started_at"])


@needs_rtmp
async def test_killed_publisher_ends_the_stream(client, nginx):
    key = await my_key(client, await register(client))
    async with client.ws_connect("/api/v1/ws") as ws:
        await subscribe(ws, f"live:{key['stream_id']}")
        ffmpeg = await rtmp.start_push(nginx.url(key["stream_key"]), seconds=30)
        assert (await next_event(ws))["event"] == "stream.started"
        ffmpeg.send_signal(signal.SIGKILL)
        code, _ = await rtmp.finish(ffmpeg)
        assert code == -signal.SIGKILL
        assert (await next_event(ws))["event"] == "stream.ended"
    assert (await get_stream(client, key["stream_id"]))["is_live"] is False


@needs_rtmp
async def test_unknown_key_is_refused(client, nginx):
    key = await my_key(client, await register(client))
    wrong = key["stream_key"] + "x"
    async with client.ws_connect("/api/v1/ws") as ws:
        await subscribe(ws, "live")
        code, stderr = await rtmp.push(nginx.url(wrong), seconds=1)
        assert_refused(code, stderr, nginx, wrong)
        assert await events_about(ws, key["stream_id"], QUIET_SECONDS) == []
    resp = await client.get("/api/v1/live/streams", params={"is_live": "true"})
    assert (await resp.json())["data"]["total"] == 0


@needs_rtmp
async def test_regenerated_key_replaces_the_old_one(client, nginx):
    user = await register(client)
    old = await my_key(client, user)
    resp = await client.post("/api/v1/live/streams/me/key/regenerate", headers=user["headers"])
    assert resp.status == 200, await resp.text()
    new = (await resp.json())["data"]
    assert new["stream_key"] != old["stream_key"]

    code, stderr = await rtmp.push(nginx.url(old["stream_key"]), seconds=1)
    assert_refused(code, stderr, nginx, old["stream_key"])

    async with client.ws_connect("/api/v1/ws") as ws:
        await subscribe(ws, f"live:{new['stream_id']}")
        code, stderr = await rtmp.push(nginx.url(new["stream_key"]), seconds=1)
        assert code == 0, stderr
        events = [(await next_event(ws))["event"] for _ in range(2)]
    assert events == ["stream.started", "stream.ended"]


EVENTS = ["on_publish", "on_publish_done", "on_play", "on_play_done"]


async def callback(client, event: str, query: str, body: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post(
        f"/api/v1/live/rtmp/{event}{query}",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return resp.status, await resp.json()


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("query", ["", "?secret=", "?secret=wrong", f"?secret={SECRET}x", f"?Secret={SECRET}"])
async def test_callbacks_need_the_secret(client, event, query):
    status, body = await callback(client, event, query, f"call=publish&name=live_x&secret={SECRET}")
    assert (status, body["code"]) == (403, "bad_secret")


async def test_callbacks_with_the_secret_are_answered(client):
    key = await my_key(client, await register(client))
    fields = f"app=live&call=publish&name={key['stream_key']}&type=live"
    status, _ = await callback(client, "on_publish", f"?secret={SECRET}", fields)
    assert status == 200
    assert (await get_stream(client, key["stream_id"]))["is_live"] is True
    status, _ = await callback(client, "on_publish_done", f"?secret={SECRET}", fields)
    assert status == 200
    assert (await get_stream(client, key["stream_id"]))["is_live"] is False


async def test_first_name_is_the_stream_name(client):
    """nginx appends the publisher's own URL arguments after its fields: a second `name` must not count."""
    key = await my_key(client, await register(client))
    fields = f"app=live&call=publish&name=live_not-a-key&type=live&name={key['stream_key']}"
    status, _ = await callback(client, "on_publish", f"?secret={SECRET}", fields)
    assert status == 403
    assert (await get_stream(client, key["stream_id"]))["is_live"] is False
