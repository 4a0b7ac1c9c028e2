"""The WebSocket hub: protocol, auth, channels, back-pressure, shutdown, several processes."""

import asyncio
import uuid

import pytest
import yarl
from aiohttp import WSMsgType

from tests.factories import register, ws_receive, ws_subscribe
from tests.realtime.helpers import closed_with, make_stream
from veza.app import create_app
from veza.keys import CHANNELS, DB, HUB, REDIS
from veza.notifications.service import notify
from veza.realtime.publish import publish

WS = "/api/v1/ws"


async def test_a_request_that_is_not_a_handshake_is_426(client):
    resp = await client.get(WS)
    assert resp.status == 426
    assert resp.headers["Upgrade"] == "websocket"
    body = await resp.json()
    assert body["success"] is False
    assert body["code"] == "upgrade_required"


async def test_anonymous_socket_follows_live(client):
    ws = await client.ws_connect(WS)
    await ws_subscribe(ws, "live")
    await publish(client.app, "live", "stream.started", {"id": "abc"})
    event = await ws_receive(ws)
    assert event["type"] == "event"
    assert event["channel"] == "live"
    assert event["event"] == "stream.started"
    assert event["data"] == {"id": "abc"}
    assert event["ts"].endswith("Z")
    await ws.close()


async def test_one_stream_channel_gets_only_its_events(client):
    mine, other = await make_stream(client), await make_stream(client)
    ws = await client.ws_connect(WS)
    await ws_subscribe(ws, f"live:{mine}")
    await publish(client.app, f"live:{other}", "stream.started", {"id": str(other)})
    await publish(client.app, f"live:{mine}", "stream.started", {"id": str(mine)})
    event = await ws_receive(ws)
    assert event["data"] == {"id": str(mine)}
    await ws.send_json({"type": "unsubscribe", "channel": f"live:{mine}"})
    assert await ws_receive(ws) == {"type": "unsubscribed", "channel": f"live:{mine}"}
    await publish(client.app, f"live:{mine}", "stream.ended", {})
    await ws.send_json({"type": "ping"})
    assert await ws_receive(ws) == {"type": "pong"}  # and no event came before it
    await ws.close()


async def test_notifications_need_authentication(client):
    ws = await client.ws_connect(WS)
    await ws.send_json({"type": "subscribe", "channel": "notifications"})
    reply = await ws_receive(ws)
    assert reply["type"] == "error"
    assert reply["code"] == "unauthorized"
    await ws.close()


async def test_own_notifications_arrive_and_nobody_elses(client):
    alice, bob = await register(client), await register(client)
    alice_ws = await client.ws_connect(f"{WS}?token={alice['access_token']}")
    bob_ws = await client.ws_connect(WS)
    await bob_ws.send_json({"type": "auth", "token": bob["access_token"]})
    assert (await ws_receive(bob_ws))["type"] == "authenticated"
    await ws_subscribe(alice_ws, "notifications")
    await ws_subscribe(bob_ws, "notifications")

    await notify(client.app, uuid.UUID(alice["user"]["id"]), "test.hello", "Hello Alice", "body", {"n": 1})
    event = await ws_receive(alice_ws)
    assert event["channel"] == "notifications"
    assert event["event"] == "notification.created"
    assert event["data"]["title"] == "Hello Alice"
    assert event["data"]["data"] == {"n": 1}
    with pytest.raises(asyncio.TimeoutError):
        await ws_receive(bob_ws, timeout=0.5)
    await alice_ws.close()
    await bob_ws.close()


async def test_a_bad_token_closes_the_socket_with_a_reason(client):
    ws = await client.ws_connect(f"{WS}?token=garbage")
    reply = await ws_receive(ws)
    assert reply == {"type": "error", "code": "unauthorized", "message": "Invalid access token"}
    closing = await ws.receive()
    assert closing.type == WSMsgType.CLOSE
    assert ws.close_code == 4401


async def test_a_bad_auth_message_keeps_the_socket_anonymous(client):
    ws = await client.ws_connect(WS)
    await ws.send_json({"type": "auth", "token": "garbage"})
    assert (await ws_receive(ws))["code"] == "unauthorized"
    await ws_subscribe(ws, "live")
    await ws.close()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not json", "bad_message"),
        ("[1, 2]", "bad_message"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "subscribe", "channel": "admin"}', "unknown_channel"),
        ('{"type": "subscribe", "channel": "live:not-a-uuid"}', "unknown_channel"),
        ('{"type": "subscribe", "channel": 42}', "unknown_channel"),
        ('{"type": "subscribe"}', "unknown_channel"),
    ],
)
async def test_bad_client_messages_get_an_error_not_a_dropped_socket(client, message, code):
    ws = await client.ws_connect(WS)
    await ws.send_str(message)
    reply = await ws_receive(ws)
    assert reply["type"] == "error"
    assert reply["code"] == code
    await ws.send_json({"type": "ping"})
    assert await ws_receive(ws) == {"type": "pong"}
    await ws.close()


async def test_binary_and_oversized_messages(client):
    ws = await client.ws_connect(WS)
    await ws.send_bytes(b"\x00\x01")
    assert (await ws_receive(ws))["code"] == "bad_message"
    await ws.send_str("x" * 10_000)  # over the 4 KiB limit: the server closes
    closing = await ws.receive()
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)


async def test_a_flooding_client_is_cut_off_and_others_are_not_stalled(client):
    flood = await client.ws_connect(WS)
    calm = await client.ws_connect(WS)
    await ws_subscribe(calm, "live")
    for _ in range(200):
        await flood.send_json({"type": "ping"})
    await publish(client.app, "live", "stream.started", {"id": "x"})
    assert (await ws_receive(calm, timeout=2))["event"] == "stream.started"
    codes = []
    while True:
        msg = await flood.receive(timeout=5)
        if msg.type != WSMsgType.TEXT:
            break
        codes.append(msg.json().get("code"))
    assert "rate_limited" in codes
    assert flood.close_code == 1008
    await calm.close()


async def test_a_client_that_cannot_keep_up_is_closed(client):
    client.app[HUB].max_buffered = 64 * 1024
    slow = await client.ws_connect(WS, max_msg_size=0)
    await ws_subscribe(slow, "live")
    watcher = await client.ws_connect(WS)
    marker = f"live:{await make_stream(client)}"
    await ws_subscribe(watcher, marker)
    payload = "x" * (1024 * 1024)
    for _ in range(24):  # far more than the socket buffers and the queue hold, while nobody reads
        await publish(client.app, "live", "big", payload)
    # The hub delivers Redis messages in order: once the watcher has the marker, all 24 were sent or refused.
    await publish(client.app, marker, "marker", {})
    assert (await ws_receive(watcher))["event"] == "marker"
    received = 0
    while True:
        msg = await slow.receive(timeout=10)
        if msg.type != WSMsgType.TEXT:
            break
        received += 1
    assert slow.close_code == 4008
    assert received < 24


async def test_shutdown_closes_sockets_with_going_away(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    ws = await client.ws_connect(WS)
    await ws_subscribe(ws, "live")
    closing = asyncio.create_task(client.server.close())
    msg = await ws.receive(timeout=5)
    await closing
    assert msg.type == WSMsgType.CLOSE
    assert ws.close_code == 1001


async def test_an_event_from_one_process_reaches_a_socket_on_another(aiohttp_client, settings):
    emitter = await aiohttp_client(create_app(settings))
    receiver = await aiohttp_client(create_app(settings))
    ws = await receiver.ws_connect(WS)
    await ws_subscribe(ws, "live")
    mark = str(uuid.uuid4())
    await publish(emitter.app, "live", "stream.started", {"from": mark})
    assert (await ws_receive(ws))["data"] == {"from": mark}
    await ws.close()


async def test_compression_is_declined(client):
    # permessage-deflate would cost a compressor (~100 KiB) per socket for small JSON events
    ws = await client.ws_connect(WS, compress=15)
    assert ws.compress == 0
    await ws_subscribe(ws, "live")
    await ws.close()


async def test_a_socket_closes_when_its_token_expires(client, settings):
    import time

    import jwt

    user = await register(client)
    claims = jwt.decode(user["access_token"], options={"verify_signature": False})
    claims["exp"] = int(time.time()) + 2
    short_lived = jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)
    ws = await client.ws_connect(f"{WS}?token={short_lived}")
    await ws_subscribe(ws, "notifications")
    msg = await ws.receive(timeout=5)
    assert msg.type == WSMsgType.CLOSE
    assert ws.close_code == 4401


@pytest.mark.parametrize("frame", ["binary", "ping"])
async def test_every_kind_of_frame_counts_against_the_flood_limit(client, frame):
    flood = await client.ws_connect(WS, autoping=False)
    for _ in range(200):
        if frame == "binary":
            await flood.send_bytes(b"\x00")
        else:
            await flood.ping()
    assert await closed_with(flood) == 1008


async def test_pings_are_answered(client):
    ws = await client.ws_connect(WS, autoping=False)
    await ws.ping(b"hello")
    msg = await ws.receive(timeout=5)
    assert (msg.type, msg.data) == (WSMsgType.PONG, b"hello")
    await ws.close()


async def test_channels_of_streams_that_do_not_exist_are_refused(client):
    made_up, real = uuid.uuid4(), await make_stream(client)
    ws = await client.ws_connect(WS)
    await ws.send_json({"type": "subscribe", "channel": f"live:{made_up}"})
    reply = await ws_receive(ws)
    assert (reply["type"], reply["code"]) == ("error", "unknown_channel")
    assert await client.app[REDIS].pubsub_numsub(client.app[CHANNELS].public(f"live:{made_up}")) == [
        (client.app[CHANNELS].public(f"live:{made_up}"), 0)
    ]
    await ws_subscribe(ws, f"live:{real}")
    assert await client.app[REDIS].pubsub_numsub(client.app[CHANNELS].public(f"live:{real}")) == [
        (client.app[CHANNELS].public(f"live:{real}"), 1)
    ]
    await ws.close()


async def test_sockets_per_client_address_are_capped(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings.model_copy(update={"ws_max_sockets_per_client": 2})))
    first, second = await client.ws_connect(WS), await client.ws_connect(WS)
    third = await client.ws_connect(WS)
    reply = await ws_receive(third)
    assert (reply["type"], reply["code"]) == ("error", "too_many_connections")
    assert await closed_with(third) == 1008
    await first.close()
    fourth = await client.ws_connect(WS)  # a socket that closed frees its place
    await ws_subscribe(fourth, "live")
    await ws_subscribe(second, "live")
    await second.close()
    await fourth.close()


async def test_channels_per_socket_are_capped(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings.model_copy(update={"ws_max_channels_per_socket": 2})))
    streams = [await make_stream(client) for _ in range(3)]
    ws = await client.ws_connect(WS)
    await ws_subscribe(ws, f"live:{streams[0]}")
    await ws_subscribe(ws, f"live:{streams[1]}")
    await ws.send_json({"type": "subscribe", "channel": f"live:{streams[2]}"})
    assert (await ws_receive(ws))["code"] == "too_many_subscriptions"
    await ws.close()


async def test_authenticating_as_another_user_drops_the_first_users_notifications(client):
    alice, bob = await register(client), await register(client)
    ws = await client.ws_connect(f"{WS}?token={alice['access_token']}")
    await ws_subscribe(ws, "notifications")
    await ws_subscribe(ws, "live")
    await ws.send_json({"type": "auth", "token": bob["access_token"]})
    assert await ws_receive(ws) == {"type": "unsubscribed", "channel": "notifications"}
    assert await ws_receive(ws) == {"type": "authenticated", "user_id": bob["user"]["id"]}

    await notify(client.app, uuid.UUID(alice["user"]["id"]), "test.secret", "For Alice only")
    await publish(client.app, "live", "stream.started", {"id": "x"})
    event = await ws_receive(ws)  # the public channel is kept; Alice's notification never comes
    assert (event["channel"], event["event"]) == ("live", "stream.started")
    await ws_subscribe(ws, "notifications")
    await notify(client.app, uuid.UUID(bob["user"]["id"]), "test.hello", "For Bob")
    assert (await ws_receive(ws))["data"]["title"] == "For Bob"
    await ws.close()


async def login(client, user) -> dict:
    resp = await client.post("/api/v1/auth/login", json={"email": user["user"]["email"], "password": user["password"]})
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]


async def test_logout_closes_the_sessions_sockets_at_once(client):
    user = await register(client)
    other_session = await login(client, user)
    ws = await client.ws_connect(f"{WS}?token={user['access_token']}")
    await ws_subscribe(ws, "notifications")
    by_auth_message = await client.ws_connect(WS)
    await by_auth_message.send_json({"type": "auth", "token": user["access_token"]})
    assert (await ws_receive(by_auth_message))["type"] == "authenticated"
    elsewhere = await client.ws_connect(f"{WS}?token={other_session['access_token']}")
    await ws_subscribe(elsewhere, "notifications")

    resp = await client.post("/api/v1/auth/logout", headers=user["headers"])
    assert resp.status == 200
    assert await closed_with(ws) == 4401
    assert await closed_with(by_auth_message) == 4401
    await ws_subscribe(elsewhere, "live")  # the user's other session is not touched
    await elsewhere.close()


async def test_a_password_change_closes_the_other_sessions_sockets(client):
    user = await register(client)
    other_session = await login(client, user)
    mine = await client.ws_connect(f"{WS}?token={user['access_token']}")
    theirs = await client.ws_connect(f"{WS}?token={other_session['access_token']}")
    await ws_subscribe(theirs, "notifications")

    resp = await client.patch(
        "/api/v1/users/me",
        json={"password": "Another-Good-Pass-7", "current_password": user["password"]},
        headers=user["headers"],
    )
    assert resp.status == 200, await resp.text()
    assert await closed_with(theirs) == 4401
    await ws_subscribe(mine, "notifications")
    await mine.close()


async def test_reusing_a_refresh_token_closes_its_sessions_sockets(client):
    user = await register(client)
    ws = await client.ws_connect(f"{WS}?token={user['access_token']}")
    await ws_subscribe(ws, "notifications")
    body = {"refresh_token": user["refresh_token"]}
    assert (await client.post("/api/v1/auth/refresh", json=body)).status == 200
    await client.app[DB].execute("UPDATE refresh_tokens SET used_at = used_at - interval '1 hour'")  # past the grace
    assert (await client.post("/api/v1/auth/refresh", json=body)).status == 401
    assert await closed_with(ws) == 4401


async def test_malformed_control_messages_are_ignored(client):
    ws = await client.ws_connect(WS)
    await ws_subscribe(ws, "live")
    for junk in ("not json", "[]", '{"close_sessions": ["not-a-uuid"]}', '{"close_sessions": 5}'):
        await client.app[REDIS].publish(client.app[CHANNELS].control, junk)
    await publish(client.app, "live", "stream.started", {"id": "still here"})
    assert (await ws_receive(ws))["data"] == {"id": "still here"}
    await ws.close()


async def test_apps_on_other_redis_dbs_never_hear_each_others_events(aiohttp_client, settings):
    """Redis pub/sub ignores the db number; the channels' names carry it, as keys are kept apart by it."""
    url = yarl.URL(settings.redis_url)
    elsewhere = settings.model_copy(update={"redis_url": str(url.with_path(f"/{int(url.path[1:]) ^ 1}"))})
    emitter = await aiohttp_client(create_app(elsewhere))
    receiver = await aiohttp_client(create_app(settings))
    ws = await receiver.ws_connect(WS)
    await ws_subscribe(ws, "live")
    await publish(emitter.app, "live", "stream.started", {"from": "another db"})
    await publish(receiver.app, "live", "stream.started", {"from": "this db"})
    assert (await ws_receive(ws))["data"] == {"from": "this db"}
    await ws.close()
