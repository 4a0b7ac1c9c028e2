"""nginx-rtmp SIGKILLed while a stream is live: no on_publish_done ever comes. The real `veza worker`'s
cron sweep ends the stream within a minute (its heartbeat timeout shortened here), viewers hear
stream.ended, and the key goes live again through a new nginx."""

from __future__ import annotations

import asyncio
import re
import time
import tomllib
from pathlib import Path

import pytest

from tests.factories import register
from tests.faults.processes import worker_process
from tests.live import rtmp
from tests.live.test_rtmp_e2e import get_stream, my_key, nginx_for, subscribe
from veza.app import create_app
from veza.settings import Settings
from workers.live import end_stale_broadcasts_cron

pytestmark = [pytest.mark.slow, pytest.mark.skipif(rtmp.missing() is not None, reason=rtmp.missing() or "")]

SECRET = "e2e-callback-secret"  # the one tests.live.test_rtmp_e2e.nginx_for configures
HEARTBEAT_TIMEOUT = 3  # nginx sends on_update every second here
WITHIN = 60  # seconds from the crash to stream.ended


async def next_event_of(ws, user_id: str, timeout: float = 20) -> dict:
    """The next event on `live` about one of the user's streams, within `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.receive_json()
            if message["type"] == "event" and (message["data"] or {}).get("user_id") == user_id:
                return message


@pytest.fixture
def app_settings(settings, redis_server, tmp_path):
    changes = {
        "redis_url": redis_server.url,
        "data_dir": tmp_path / "data",
        "rtmp_callback_secret": SECRET,
        "rtmp_heartbeat_timeout": HEARTBEAT_TIMEOUT,
    }
    return settings.model_copy(update=changes)


@pytest.fixture
async def client(aiohttp_client, app_settings):
    return await aiohttp_client(create_app(app_settings))


@pytest.fixture
def worker(app_settings, tmp_path):
    process = worker_process(app_settings, tmp_path, rtmp_heartbeat_timeout=HEARTBEAT_TIMEOUT)
    process.start()
    yield process
    process.kill()


async def test_a_killed_nginx_ends_the_stream_within_a_minute_and_it_goes_live_again(client, worker, tmp_path):
    user = await register(client)
    key = await my_key(client, user)
    first, second = tmp_path / "nginx", tmp_path / "nginx-restarted"
    first.mkdir()
    second.mkdir()
    async with client.ws_connect("/api/v1/ws") as ws:
        await subscribe(ws, "live")
        async with nginx_for(client, first) as nginx:
            ffmpeg = await rtmp.start_push(nginx.url(key["stream_key"]), seconds=60)
            assert (await next_event_of(ws, user["user"]["id"]))["event"] == "stream.started"
            nginx.crash()
            crashed_at = time.monotonic()
            code, _ = await rtmp.finish(ffmpeg)
            assert code != 0
            assert (await get_stream(client, key["stream_id"]))["is_live"] is True  # nginx could not tell

            ended = await next_event_of(ws, user["user"]["id"], timeout=WITHIN)
            assert time.monotonic() - crashed_at < WITHIN
            assert (ended["event"], ended["data"]["id"]) == ("stream.ended", key["stream_id"])
            assert (await get_stream(client, key["stream_id"]))["is_live"] is False

        async with nginx_for(client, second) as restarted:
            ffmpeg = await rtmp.start_push(restarted.url(key["stream_key"]), seconds=30)
            started = await next_event_of(ws, user["user"]["id"])
            assert started["event"] == "stream.started" and started["data"]["id"] != key["stream_id"]
            assert (await get_stream(client, started["data"]["id"]))["is_live"] is True
            ffmpeg.terminate()
            await rtmp.finish(ffmpeg)
            done = await next_event_of(ws, user["user"]["id"])
            assert (done["event"], done["data"]["id"]) == ("stream.ended", started["data"]["id"])
    assert worker.alive and worker.starts == 1


def test_the_shipped_settings_end_a_crashed_nginx_stream_within_a_minute():
    """What the test above shortens: with config/nginx-rtmp.conf's heartbeat interval, the default
    RTMP_HEARTBEAT_TIMEOUT and the sweep's schedule, a stream is ended at most a minute after its last
    heartbeat (so after the crash), and only after several heartbeats in a row were missed."""
    interval = int(re.search(r"notify_update_timeout (\d+)s;", rtmp.CONFIG.read_text())[1])
    with (Path(__file__).resolve().parents[2] / "config" / "default.toml").open("rb") as file:
        timeout = tomllib.load(file)["rtmp_heartbeat_timeout"]
    assert Settings.model_fields["rtmp_heartbeat_timeout"].default == timeout
    seconds = sorted(end_stale_broadcasts_cron.second)
    longest_gap = max(b - a for a, b in zip(seconds, [*seconds[1:], seconds[0] + 60], strict=True))
    assert timeout + longest_gap <= WITHIN
    assert timeout >= 3 * interval
