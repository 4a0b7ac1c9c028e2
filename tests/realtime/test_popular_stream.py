"""Joining a stream that sockets of this process follow already needs no query: a crowd joining a
popular stream makes one, and keeps joining while PostgreSQL is slow or down."""

import pytest
import yarl

from tests.factories import ws_receive, ws_subscribe
from tests.outage import TcpProxy
from tests.realtime.helpers import make_stream
from veza.app import create_app

pytestmark = pytest.mark.slow

WS = "/api/v1/ws"


@pytest.fixture
async def database_proxy(settings):
    url = yarl.URL(settings.database_url)
    proxy = TcpProxy(url.host, url.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.kill()


@pytest.fixture
async def client(aiohttp_client, settings, database_proxy):
    database_url = str(yarl.URL(settings.database_url).with_port(database_proxy.port))
    return await aiohttp_client(create_app(settings.model_copy(update={"database_url": database_url})))


async def test_a_followed_stream_can_be_joined_while_postgresql_is_down(client, database_proxy):
    followed, other = await make_stream(client), await make_stream(client)
    first = await client.ws_connect(WS)
    await ws_subscribe(first, f"live:{followed}")  # checked against the database

    await database_proxy.kill()
    crowd = [await client.ws_connect(WS) for _ in range(3)]
    for ws in crowd:
        await ws_subscribe(ws, f"live:{followed}")
    await crowd[0].send_json({"type": "subscribe", "channel": f"live:{other}"})
    reply = await ws_receive(crowd[0])
    assert (reply["type"], reply["code"]) == ("error", "unavailable"), reply

    for ws in (first, *crowd):
        await ws.close()


async def test_a_stream_nobody_follows_is_still_checked(client):
    """Made-up stream ids are refused as before, even right after a real stream was followed."""
    real = await make_stream(client)
    ws = await client.ws_connect(WS)
    await ws_subscribe(ws, f"live:{real}")
    made_up = "00000000-0000-4000-8000-000000000000"
    await ws.send_json({"type": "subscribe", "channel": f"live:{made_up}"})
    reply = await ws_receive(ws)
    assert (reply["type"], reply["code"]) == ("error", "unknown_channel"), reply
    await ws.close()
