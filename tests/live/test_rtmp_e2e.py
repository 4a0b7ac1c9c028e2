"""End to end: ffmpeg publishes to a real nginx-rtmp, whose callbacks reach the app over TCP."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse

from tests.factories import register
from tests.live import rtmp
from tests.live.callbacks import sweep
from veza.app import create_app

pytestmark = pytest.mark.slow

SECRET = "e2e-callback-secret"
EVENT_TIMEOUT = 20
QUIET_SECONDS = 3
UPDATE_SECONDS = 1  # nginx's on_update interval here (30 s in production)
HEARTBEAT_TIMEOUT = 3  # RTMP_HEARTBEAT_TIMEOUT here: a few on_update intervals, as in production

needs_rtmp = pytest.mark.skipif(rtmp.missing() is not None, reason=rtmp.missing() or "")


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"rtmp_callback_secret": SECRET, "rtmp_heartbeat_timeout": HEARTBEAT_TIMEOUT})


@pytest.fixture
def app(settings):
    return create_app(settings)


def nginx_for(client, prefix: Path):
    return rtmp.running_nginx(prefix, f"http://{client.host}:{client.port}", SECRET, update_seconds=UPDATE_SECONDS)


@pytest.fixture
async def nginx(client, tmp_path) -> AsyncIterator[rtmp.Nginx]:
    async with nginx_for(client, tmp_path) as server:
        yield server


@pytest.fixture
def another_prefix(tmp_path) -> Path:
    """Where a second nginx (the one started after a crash) keeps its files."""
    prefix = tmp_path / "restarted"
    prefix.mkdir()
    return prefix


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
    """The events about `stream_id` within `seconds` (`live` carries every stream's events)."""
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


async def next_event_of(ws: ClientWebSocketResponse, user_id: str) -> dict[str, Any]:
    """The next event on `live` about one of the user's streams (`live` carries every stream's events)."""
    while True:
        message = await next_event(ws)
        if isinstance(message["data"], dict) and message["data"].get("user_id") == user_id:
            return message


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
        assert f"notify: publish redirect to '{key['stream_id']}'" in nginx.log()

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
async def test_viewers_play_by_the_public_id_and_never_by_the_key(client, nginx):
    key = await my_key(client, await register(client))
    async with client.ws_connect("/api/v1/ws") as ws:
        await subscribe(ws, f"live:{key['stream_id']}")
        ffmpeg = await rtmp.start_push(nginx.url(key["stream_key"]), seconds=30)
        assert (await next_event(ws))["event"] == "stream.started"

        code, found, stderr = await rtmp.probe(nginx.url(key["stream_id"]))
        assert code == 0, stderr
        assert sorted(found.split()) == ["audio", "video"]

        code, found, stderr = await rtmp.probe(nginx.url(key["stream_key"]))
        assert code != 0 and found == "", (found, stderr)
        assert f"play: name='{key['stream_key']}'" in nginx.log()
        assert "notify: play '" in nginx.log()

        ffmpeg.terminate()
        await rtmp.finish(ffmpeg)
        events = [await next_event(ws)]
        while events[-1]["event"] != "stream.ended":
            events.append(await next_event(ws))
    counts = [e["data"]["viewer_count"] for e in events if e["event"] == "stream.viewers"]
    assert 1 in counts  # the viewer by id was counted; the one by key never was
    assert max(counts) == 1


@needs_rtmp
async def test_a_crashed_nginx_is_swept_and_the_key_publishes_again(client, settings, nginx, another_prefix):
    user = await register(client)
    key = await my_key(client, user)
    async with client.ws_connect("/api/v1/ws") as ws:
        await subscribe(ws, "live")
        ffmpeg = await rtmp.start_push(nginx.url(key["stream_key"]), seconds=30)
        assert (await next_event_of(ws, user["user"]["id"]))["event"] == "stream.started"
        # Longer than the timeout: nginx's on_update heartbeats keep the stream from being swept.
        await asyncio.sleep(HEARTBEAT_TIMEOUT + UPDATE_SECONDS)
        await sweep(client, settings, "while-publishing")
        assert (await get_stream(client, key["stream_id"]))["is_live"] is True
        assert "notify: update '" in nginx.log()

        nginx.crash()
        code, _ = await rtmp.finish(ffmpeg)
        assert code != 0
        assert (await get_stream(client, key["stream_id"]))["is_live"] is True  # nginx could not tell
        await asyncio.sleep(HEARTBEAT_TIMEOUT + UPDATE_SECONDS)
        await sweep(client, settings, "after-the-crash")
        ended = await next_event_of(ws, user["user"]["id"])
        assert (ended["event"], ended["data"]["id"]) == ("stream.ended", key["stream_id"])
        assert (await get_stream(client, key["stream_id"]))["is_live"] is False

        async with nginx_for(client, another_prefix) as restarted:
            code, stderr = await rtmp.push(restarted.url(key["stream_key"]), seconds=1)
            assert code == 0, stderr
        started = await next_event_of(ws, user["user"]["id"])
        assert started["event"] == "stream.started" and started["data"]["id"] != key["stream_id"]


@needs_rtmp
async def test_a_new_publisher_takes_over_from_a_crashed_nginx(client, nginx, another_prefix):
    user = await register(client)
    key = await my_key(client, user)
    async with client.ws_connect("/api/v1/ws") as ws:
        await subscribe(ws, "live")
        async with nginx_for(client, another_prefix) as restarted:
            ffmpeg = await rtmp.start_push(nginx.url(key["stream_key"]), seconds=30)
            assert (await next_event_of(ws, user["user"]["id"]))["event"] == "stream.started"
            # While the first publisher's heartbeat is fresh, a second one is refused.
            code, stderr = await rtmp.push(restarted.url(key["stream_key"]), seconds=1)
            assert_refused(code, stderr, restarted, key["stream_key"])

            nginx.crash()
            await rtmp.finish(ffmpeg)
            await asyncio.sleep(HEARTBEAT_TIMEOUT)  # the soonest the first session can be silent
            # The key publishes again once the crashed session's heartbeat is stale; on a loaded
            # machine its last heartbeat may land late, so try a few times before failing.
            for _ in range(10):
                code, stderr = await rtmp.push(restarted.url(key["stream_key"]), seconds=1)
                if code == 0:
                    break
                await asyncio.sleep(UPDATE_SECONDS)
            assert code == 0, stderr
        events = [await next_event_of(ws, user["user"]["id"]) for _ in range(3)]
    assert [e["event"] for e in events] == ["stream.ended", "stream.started", "stream.ended"]
    assert events[0]["data"]["id"] == key["stream_id"]
    assert events[1]["data"]["id"] == events[2]["data"]["id"] != key["stream_id"]
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


EVENTS = ["on_publish", "on_publish_done", "on_update", "on_play", "on_play_done"]


async def callback(client, event: str, query: str, body: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post(
        f"/api/v1/live/rtmp/{event}{query}",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
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
    assert status == 302
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
