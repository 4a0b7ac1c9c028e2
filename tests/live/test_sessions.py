"""RTMP publish sessions: the redirect to the public id, on_update heartbeats, takeover, and the stale sweep."""

from __future__ import annotations

import json

import pytest

from tests.factories import register, ws_receive, ws_subscribe
from tests.live.callbacks import SECRET, callback, key_of, sweep
from veza.app import create_app
from veza.constants import END_STALE_BROADCASTS_JOB
from veza.keys import DB, SETTINGS
from veza.live.service import end_stale_broadcasts
from workers.settings import WorkerSettings

STREAMS = "/api/v1/live/streams"
FIRST = {"addr": "192.0.2.1", "clientid": "7"}  # one nginx session of a publisher
SECOND = {"addr": "192.0.2.2", "clientid": "8"}  # another one


@pytest.fixture
def app(settings):
    return create_app(settings.model_copy(update={"rtmp_callback_secret": SECRET}))


async def get_stream(client, stream_id: str) -> dict:
    resp = await client.get(f"{STREAMS}/{stream_id}")
    assert resp.status == 200
    return (await resp.json())["data"]


async def silence(client, stream_id: str) -> None:
    """Make the stream's last heartbeat older than RTMP_HEARTBEAT_TIMEOUT, as if nginx died that long ago."""
    timeout = client.app[SETTINGS].rtmp_heartbeat_timeout
    await client.app[DB].execute(
        "UPDATE live_streams SET heartbeat_at = now() - make_interval(secs => %s) WHERE id = %s",
        (timeout + 1, stream_id),
    )


async def heartbeat(client, key: str, session: dict[str, str]):
    return await callback(client, "on_update", key, call="update_publish", time="30", timestamp="30000", **session)


async def test_a_valid_key_is_redirected_to_the_public_id(client):
    key = await key_of(client, await register(client))
    resp = await callback(client, "on_publish", key["stream_key"], call="publish", type="live", **FIRST)
    assert resp.status == 302
    assert resp.headers["Location"] == key["stream_id"]
    body = await resp.text()
    assert json.loads(body)["data"] == {"stream_id": key["stream_id"]}
    assert key["stream_key"] not in body and key["stream_key"] not in resp.headers["Location"]
    assert (await get_stream(client, key["stream_id"]))["is_live"] is True


async def test_viewers_play_by_id_and_never_by_key(client):
    key = await key_of(client, await register(client))
    await callback(client, "on_publish", key["stream_key"], **FIRST)
    refused = await callback(client, "on_play", key["stream_key"], call="play")
    assert (refused.status, (await refused.json())["code"]) == (403, "not_live")
    assert (await callback(client, "on_play", key["stream_id"], call="play")).status == 200
    assert (await get_stream(client, key["stream_id"]))["viewer_count"] == 1


async def test_a_fresh_heartbeat_keeps_a_second_publisher_out(client):
    key = await key_of(client, await register(client))
    await callback(client, "on_publish", key["stream_key"], **FIRST)
    assert (await heartbeat(client, key["stream_key"], FIRST)).status == 200
    second = await callback(client, "on_publish", key["stream_key"], **SECOND)
    assert (second.status, (await second.json())["code"]) == (409, "already_live")
    stream = await get_stream(client, key["stream_id"])
    assert stream["is_live"] is True


async def test_a_heartbeat_renews_the_stream(client):
    key = await key_of(client, await register(client))
    await callback(client, "on_publish", key["stream_key"], **FIRST)
    await silence(client, key["stream_id"])
    assert (await heartbeat(client, key["stream_key"], FIRST)).status == 200
    second = await callback(client, "on_publish", key["stream_key"], **SECOND)
    assert second.status == 409  # the heartbeat made the first session fresh again


async def own_event(ws, user_id: str) -> dict:
    """The next event on `live` about the user's streams (`live` carries every stream's events)."""
    while True:
        message = await ws_receive(ws, type_="event")
        if isinstance(message["data"], dict) and message["data"].get("user_id") == user_id:
            return message


async def test_a_new_publisher_takes_over_a_silent_stream(client):
    user = await register(client)
    key = await key_of(client, user)
    ws = await client.ws_connect("/api/v1/ws")
    await ws_subscribe(ws, "live")
    await callback(client, "on_publish", key["stream_key"], **FIRST)
    assert (await own_event(ws, user["user"]["id"]))["event"] == "stream.started"
    await silence(client, key["stream_id"])

    resp = await callback(client, "on_publish", key["stream_key"], **SECOND)
    assert resp.status == 302
    new_id = resp.headers["Location"]
    assert new_id != key["stream_id"]
    ended, started = await own_event(ws, user["user"]["id"]), await own_event(ws, user["user"]["id"])
    assert (ended["event"], ended["data"]["id"], ended["data"]["is_live"]) == ("stream.ended", key["stream_id"], False)
    assert (started["event"], started["data"]["id"]) == ("stream.started", new_id)
    old = await get_stream(client, key["stream_id"])
    assert old["is_live"] is False and old["ended_at"]
    assert (await get_stream(client, new_id))["is_live"] is True

    # The old session, should it still be around, is dropped and cannot end the new one.
    stale = await heartbeat(client, key["stream_key"], FIRST)
    assert (stale.status, (await stale.json())["code"]) == (403, "not_live")
    assert (await callback(client, "on_publish_done", key["stream_key"], **FIRST)).status == 200
    assert (await get_stream(client, new_id))["is_live"] is True
    assert (await heartbeat(client, key["stream_key"], SECOND)).status == 200
    assert (await callback(client, "on_publish_done", key["stream_key"], **SECOND)).status == 200
    assert (await get_stream(client, new_id))["is_live"] is False
    await ws.close()


async def test_heartbeats_of_unknown_sessions_are_refused_and_viewers_pass(client):
    key = await key_of(client, await register(client))
    unknown = await heartbeat(client, key["stream_key"], FIRST)
    assert (unknown.status, (await unknown.json())["code"]) == (403, "not_live")
    await callback(client, "on_publish", key["stream_key"], **FIRST)
    assert (await heartbeat(client, "live_made_up", FIRST)).status == 403
    assert (await heartbeat(client, key["stream_key"], SECOND)).status == 403
    viewer = await callback(client, "on_update", key["stream_id"], call="update_play", **SECOND)
    assert viewer.status == 200
    bad = await callback(client, "on_update", key["stream_key"], secret="wrong", call="update_publish", **FIRST)
    assert (bad.status, (await bad.json())["code"]) == (403, "bad_secret")


async def test_the_sweep_ends_silent_streams_once(client):
    silent = await key_of(client, await register(client))
    fresh = await key_of(client, await register(client))
    await callback(client, "on_publish", silent["stream_key"], **FIRST)
    await callback(client, "on_publish", fresh["stream_key"], **SECOND)
    await silence(client, silent["stream_id"])
    ws = await client.ws_connect("/api/v1/ws")
    await ws_subscribe(ws, f"live:{silent['stream_id']}")

    assert await end_stale_broadcasts(client.app) == 1
    ended = await ws_receive(ws)
    assert (ended["event"], ended["data"]["is_live"]) == ("stream.ended", False)
    stream = await get_stream(client, silent["stream_id"])
    assert stream["is_live"] is False
    assert (await get_stream(client, fresh["stream_id"]))["is_live"] is True

    assert await end_stale_broadcasts(client.app) == 0
    with pytest.raises(TimeoutError):
        await ws_receive(ws, timeout=0.5)  # a second run ends nothing and announces nothing
    assert (await get_stream(client, silent["stream_id"]))["ended_at"] == stream["ended_at"]

    # The key publishes again: a new stream, no 409.
    again = await callback(client, "on_publish", silent["stream_key"], **SECOND)
    assert again.status == 302
    assert again.headers["Location"] != silent["stream_id"]
    await ws.close()


async def test_the_worker_job_sweeps(client, settings):
    key = await key_of(client, await register(client))
    await callback(client, "on_publish", key["stream_key"], **FIRST)
    await silence(client, key["stream_id"])
    await sweep(client, settings, "once")
    assert (await get_stream(client, key["stream_id"]))["is_live"] is False


def test_the_worker_sweeps_every_thirty_seconds():
    sweeps = [job for job in WorkerSettings.cron_jobs if job.name == END_STALE_BROADCASTS_JOB]
    assert [(job.second, job.unique) for job in sweeps] == [({0, 30}, True)]


async def test_a_stream_live_before_sessions_were_recorded_is_adopted_by_its_first_heartbeat(client):
    """Streams live when migration 0007 ran have no publish_client: the first session that reports owns them."""
    key = await key_of(client, await register(client))
    await callback(client, "on_publish", key["stream_key"], **FIRST)
    await client.app[DB].execute("UPDATE live_streams SET publish_client = NULL WHERE id = %s", (key["stream_id"],))
    assert (await heartbeat(client, key["stream_key"], FIRST)).status == 200
    assert (await heartbeat(client, key["stream_key"], SECOND)).status == 403
    assert (await callback(client, "on_publish_done", key["stream_key"], **SECOND)).status == 200
    assert (await get_stream(client, key["stream_id"]))["is_live"] is True
    assert (await callback(client, "on_publish_done", key["stream_key"], **FIRST)).status == 200
    assert (await get_stream(client, key["stream_id"]))["is_live"] is False


@pytest.mark.parametrize("event", ["on_publish", "on_publish_done", "on_update", "on_play", "on_play_done"])
@pytest.mark.parametrize("field", ["name", "addr", "clientid", "call"])
async def test_nul_in_a_callback_field_is_422(client, event, field):
    fields = {"name": "live_x", "call": "update_publish", **FIRST}
    fields[field] += "\x00"
    resp = await callback(client, event, **fields)
    body = await resp.json()
    assert (resp.status, body["code"], body["details"][0]["field"]) == (422, "validation_error", field)
