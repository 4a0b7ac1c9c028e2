"""Live streams over REST and the RTMP callbacks (without nginx; the end-to-end test has it)."""

import asyncio
import json
import socket
import uuid

import pytest
from aiohttp import web

from tests.factories import register, ws_receive, ws_subscribe
from tests.live.callbacks import SECRET, callback, key_of
from veza.app import create_app
from veza.keys import RTMP_HEALTH, SETTINGS
from veza.live import service as live_service

STREAMS = "/api/v1/live/streams"


@pytest.fixture
def app(settings):
    return create_app(settings.model_copy(update={"rtmp_callback_secret": SECRET}))


async def test_create_list_and_get(client):
    user = await register(client)
    resp = await client.post(
        STREAMS,
        json={"title": "Late night beats", "description": "lofi", "category": "music", "tags": [" Lo Fi ", "lo-fi"]},
        headers=user["headers"],
    )
    assert resp.status == 201
    stream = (await resp.json())["data"]
    assert stream["tags"] == ["lo-fi"]
    assert stream["is_live"] is False
    assert stream["viewer_count"] == 0
    assert stream["stream_key"].startswith("live_")

    listing = await client.get(STREAMS)
    body = await listing.text()
    assert stream["stream_key"] not in body
    data = json.loads(body)["data"]
    assert data["total"] == 1
    assert data["streams"][0]["id"] == stream["id"]
    one = await client.get(f"{STREAMS}/{stream['id']}")
    assert "stream_key" not in (await one.json())["data"]


async def test_me_includes_the_key_and_me_key_makes_a_draft(client):
    user = await register(client)
    key = await key_of(client, user)
    assert key["rtmp_url"] == "rtmp://localhost:1935/live"
    mine = (await (await client.get(f"{STREAMS}/me", headers=user["headers"])).json())["data"]
    assert mine["total"] == 1
    assert mine["streams"][0]["id"] == key["stream_id"]
    assert mine["streams"][0]["stream_key"] == key["stream_key"]
    assert mine["streams"][0]["title"] == "Untitled stream"
    assert await key_of(client, user) == key  # idempotent: no second draft, same key


async def test_only_the_owner_updates_a_stream(client):
    owner, other = await register(client), await register(client)
    key = await key_of(client, owner)
    path = f"{STREAMS}/{key['stream_id']}"
    resp = await client.put(path, json={"title": "Mine"}, headers=other["headers"])
    assert resp.status == 404
    resp = await client.put(path, json={"title": "Renamed", "tags": ["Jazz"]}, headers=owner["headers"])
    assert resp.status == 200
    assert (await resp.json())["data"]["title"] == "Renamed"
    assert (await resp.json())["data"]["tags"] == ["jazz"]
    assert (await client.put(f"{STREAMS}/not-a-uuid", json={"title": "x"}, headers=owner["headers"])).status == 404
    assert (await client.put(f"{STREAMS}/{uuid.uuid4()}", json={"title": "x"}, headers=owner["headers"])).status == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "x" * 141},
        {"title": "ok", "tags": ["t"] * 11},
        {"title": "ok", "tags": ["x" * 51]},
        {"title": "   "},
        {"title": "ok", "tags": ["  "]},
        {"title": "ok", "tags": "not-a-list"},
        {"title": "ok", "stream_key": "mine"},
        {"title": 5},
    ],
)
async def test_invalid_streams_are_422(client, body):
    user = await register(client)
    assert (await client.post(STREAMS, json=body, headers=user["headers"])).status == 422
    assert (await (await client.get(STREAMS)).json())["data"]["total"] == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", STREAMS),
        ("GET", f"{STREAMS}/me"),
        ("GET", f"{STREAMS}/me/key"),
        ("POST", f"{STREAMS}/me/key/regenerate"),
        ("PUT", f"{STREAMS}/6f1c1e5e-8a2b-4c3d-9e4f-0a1b2c3d4e5f"),
    ],
)
async def test_stream_routes_need_a_token(client, method, path):
    assert (await client.request(method, path, json={"title": "x"})).status == 401


async def test_me_is_not_taken_for_a_stream_id(client):
    """PUT /live/streams/me is a method /live/streams/me does not have, not an update of a stream "me"."""
    user = await register(client)
    resp = await client.put(f"{STREAMS}/me", json={"title": "x"}, headers=user["headers"])
    assert resp.status == 405
    assert resp.headers["Allow"] == "GET"
    assert (await resp.json())["code"] == "method_not_allowed"
    resp = await client.put(f"{STREAMS}/not-a-uuid", json={"title": "x"}, headers=user["headers"])
    assert resp.status == 404


async def test_callbacks_take_a_form_only(client):
    resp = await client.post(f"/api/v1/live/rtmp/on_publish?secret={SECRET}", json={"name": "live_x"})
    assert resp.status == 415
    assert (await resp.json())["code"] == "unsupported_media_type"


async def test_a_callback_body_that_stops_arriving_is_408(aiohttp_client, settings):
    """A form is read like a JSON body: no one holds a callback open by sending nothing."""
    changes = {"rtmp_callback_secret": SECRET, "body_idle_timeout": 0.2}
    client = await aiohttp_client(create_app(settings.model_copy(update=changes)))
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        b"POST /api/v1/live/rtmp/on_publish HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nname=live_"
    )
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_going_live_and_offline_through_the_callbacks(client):
    user = await register(client)
    key = await key_of(client, user)
    ws = await client.ws_connect("/api/v1/ws")
    await ws_subscribe(ws, "live")
    await ws_subscribe(ws, f"live:{key['stream_id']}")

    resp = await callback(client, "on_publish", key["stream_key"])
    assert resp.status == 302
    started = [await ws_receive(ws), await ws_receive(ws)]
    assert {e["channel"] for e in started} == {"live", f"live:{key['stream_id']}"}
    assert all(e["event"] == "stream.started" and e["data"]["is_live"] for e in started)
    assert key["stream_key"] not in json.dumps(started)

    live = (await (await client.get(f"{STREAMS}?is_live=true")).json())["data"]
    assert [s["id"] for s in live["streams"]] == [key["stream_id"]]
    assert (await callback(client, "on_publish", key["stream_key"])).status == 409  # already live

    assert (await callback(client, "on_publish_done", key["stream_key"])).status == 200
    ended = await ws_receive(ws)
    assert ended["event"] == "stream.ended"
    stream = (await (await client.get(f"{STREAMS}/{key['stream_id']}")).json())["data"]
    assert stream["is_live"] is False
    assert stream["started_at"] and stream["ended_at"]
    await ws.close()


async def test_a_stream_that_ended_is_not_reused(client):
    user = await register(client)
    key = await key_of(client, user)
    await callback(client, "on_publish", key["stream_key"])
    await callback(client, "on_publish_done", key["stream_key"])
    second = await callback(client, "on_publish", key["stream_key"])
    assert (await second.json())["data"]["stream_id"] != key["stream_id"]


@pytest.mark.parametrize("secret", ["", "wrong"])
async def test_callbacks_refuse_a_missing_or_wrong_secret(client, secret):
    user = await register(client)
    key = await key_of(client, user)
    for event in ("on_publish", "on_publish_done", "on_play", "on_play_done"):
        assert (await callback(client, event, key["stream_key"], secret=secret)).status == 403
    assert (await client.post("/api/v1/live/rtmp/on_publish", data={"name": key["stream_key"]})).status == 403
    stream = (await (await client.get(f"{STREAMS}/{key['stream_id']}")).json())["data"]
    assert stream["is_live"] is False


async def test_unknown_and_regenerated_keys_are_refused(client):
    user = await register(client)
    old = await key_of(client, user)
    assert (await callback(client, "on_publish", "live_made_up")).status == 403
    assert (await callback(client, "on_publish", "")).status == 403
    resp = await client.post(f"{STREAMS}/me/key/regenerate", headers=user["headers"])
    new = (await resp.json())["data"]
    assert new["stream_key"] != old["stream_key"]
    assert (await callback(client, "on_publish", old["stream_key"])).status == 403
    assert (await callback(client, "on_publish", new["stream_key"])).status == 302


async def test_a_broadcast_ends_even_if_the_key_changed_meanwhile(client):
    user = await register(client)
    old = await key_of(client, user)
    await callback(client, "on_publish", old["stream_key"])
    await client.post(f"{STREAMS}/me/key/regenerate", headers=user["headers"])
    assert (await callback(client, "on_publish_done", old["stream_key"])).status == 200
    stream = (await (await client.get(f"{STREAMS}/{old['stream_id']}")).json())["data"]
    assert stream["is_live"] is False


async def test_viewer_counts_and_throttled_viewer_events(client):
    user = await register(client)
    key = await key_of(client, user)
    await callback(client, "on_publish", key["stream_key"])
    ws = await client.ws_connect("/api/v1/ws")
    await ws_subscribe(ws, f"live:{key['stream_id']}")
    for _ in range(5):
        assert (await callback(client, "on_play", key["stream_id"])).status == 200
    assert (await callback(client, "on_play_done", key["stream_id"])).status == 200

    first = await ws_receive(ws)
    assert first["event"] == "stream.viewers"
    assert first["data"]["viewer_count"] == 1  # sent at once for the first play; the rest waited
    trailing = await ws_receive(ws, timeout=3)
    assert trailing["data"]["viewer_count"] == 4
    with pytest.raises(asyncio.TimeoutError):
        await ws_receive(ws, timeout=1.5)
    stream = (await (await client.get(f"{STREAMS}/{key['stream_id']}")).json())["data"]
    assert stream["viewer_count"] == 4
    assert (await callback(client, "on_play", "no-such-stream")).status == 403
    await ws.close()


async def test_live_health_reports_whether_rtmp_answers(aiohttp_client, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    down = await aiohttp_client(create_app(settings.model_copy(update={"rtmp_health_port": free_port})))
    assert (await (await down.get("/api/v1/live/health")).json())["data"]["status"] == "down"

    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    up = await aiohttp_client(create_app(settings.model_copy(update={"rtmp_health_port": port})))
    assert (await (await up.get("/api/v1/live/health")).json())["data"]["status"] == "ok"
    server.close()
    await server.wait_closed()


async def test_the_rtmp_probe_is_a_service_with_its_result_cached(settings, monkeypatch):
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    app = web.Application()
    app[SETTINGS] = settings.model_copy(update={"rtmp_health_port": server.sockets[0].getsockname()[1]})
    app[RTMP_HEALTH] = {}
    assert await live_service.rtmp_status(app) == "ok"
    server.close()
    await server.wait_closed()
    assert await live_service.rtmp_status(app) == "ok"  # the cached probe, within its few seconds
    monkeypatch.setattr(live_service, "RTMP_HEALTH_CACHE_SECONDS", 0)
    assert await live_service.rtmp_status(app) == "down"


async def test_concurrent_first_key_calls_make_one_draft_stream(client):
    for _ in range(5):
        user = await register(client)
        first, second = await asyncio.gather(key_of(client, user), key_of(client, user))
        assert first == second
        mine = await client.get(f"{STREAMS}/me", headers=user["headers"])
        assert (await mine.json())["data"]["total"] == 1


async def test_concurrent_regenerations_keep_one_draft_stream(client):
    for _ in range(5):
        user = await register(client)
        regenerate = f"{STREAMS}/me/key/regenerate"
        answers = await asyncio.gather(*(client.post(regenerate, headers=user["headers"]) for _ in range(3)))
        assert [resp.status for resp in answers] == [200, 200, 200]
        streams = {(await resp.json())["data"]["stream_id"] for resp in answers}
        assert len(streams) == 1
        mine = await client.get(f"{STREAMS}/me", headers=user["headers"])
        assert (await mine.json())["data"]["total"] == 1
