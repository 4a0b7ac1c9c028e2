"""The hub through dependency outages: a private redis-server that the tests kill, restart and freeze,
and PostgreSQL behind a proxy that they cut."""

import uuid

import jwt
import pytest
import yarl

from tests.factories import register, ws_receive, ws_subscribe
from tests.outage import TcpProxy, wait_until
from tests.realtime.helpers import closed_with, make_stream
from veza.app import create_app
from veza.keys import CHANNELS, HUB
from veza.realtime.publish import close_sessions, event_message

pytestmark = pytest.mark.slow

WS = "/api/v1/ws"


@pytest.fixture
async def client(aiohttp_client, settings, redis_server):
    return await aiohttp_client(create_app(settings.model_copy(update={"redis_url": redis_server.url})))


async def refused(ws, channel: str) -> None:
    await ws.send_json({"type": "subscribe", "channel": channel})
    reply = await ws_receive(ws)
    assert (reply["type"], reply["code"]) == ("error", "unavailable"), reply


async def test_channels_are_refused_during_an_outage_and_all_resume_after_it(client, redis_server):
    hub = client.app[HUB]
    stream = await make_stream(client)
    early = await client.ws_connect(WS)
    await ws_subscribe(early, "live")

    redis_server.kill()
    await wait_until(lambda: not hub.online)
    late = await client.ws_connect(WS)
    await refused(late, f"live:{stream}")
    await refused(late, "live")  # routed to another socket already, but Redis cannot confirm it now

    redis_server.start()
    await wait_until(lambda: hub.online)
    assert redis_server.subscribers(client.app[CHANNELS].public("live")) == 1  # subscribed again, by the hub
    await ws_subscribe(late, f"live:{stream}")
    await ws_subscribe(late, "live")
    assert redis_server.subscribers(client.app[CHANNELS].public(f"live:{stream}")) == 1
    redis_server.publish(client.app[CHANNELS].public("live"), event_message("live", "stream.started", {"n": 1}))
    redis_server.publish(
        client.app[CHANNELS].public(f"live:{stream}"), event_message(f"live:{stream}", "stream.started", {})
    )
    assert (await ws_receive(early))["data"] == {"n": 1}
    assert (await ws_receive(late))["data"] == {"n": 1}
    assert (await ws_receive(late))["channel"] == f"live:{stream}"
    await early.close()
    await late.close()


async def test_a_frozen_redis_is_noticed_and_its_return_resumes_delivery(client, redis_server):
    hub = client.app[HUB]
    hub.idle_ping = hub.confirm_timeout = 0.3
    stream = await make_stream(client)
    ws = await client.ws_connect(WS)
    await ws_subscribe(ws, "live")

    redis_server.freeze()
    await wait_until(lambda: not hub.online)
    await refused(ws, f"live:{stream}")
    redis_server.thaw()
    await wait_until(lambda: hub.online)
    redis_server.publish(client.app[CHANNELS].public("live"), event_message("live", "stream.started", {"back": True}))
    assert (await ws_receive(ws))["data"] == {"back": True}
    await ws.close()


async def test_the_reader_is_restarted_after_an_unexpected_error(client, redis_server):
    hub = client.app[HUB]
    ws = await client.ws_connect(WS)
    await ws_subscribe(ws, "live")
    deliver, failures = hub.deliver, []

    def fails_once(channel: str, message: str) -> None:
        if not failures:
            failures.append(channel)
            raise RuntimeError("a bug in the fan-out")
        deliver(channel, message)

    hub.deliver = fails_once
    redis_server.publish(client.app[CHANNELS].public("live"), event_message("live", "lost", {}))
    await wait_until(lambda: hub.reader_restarts == 1)
    await wait_until(lambda: hub.online)
    redis_server.publish(
        client.app[CHANNELS].public("live"), event_message("live", "stream.started", {"after": "restart"})
    )
    assert (await ws_receive(ws))["data"] == {"after": "restart"}
    assert failures == [client.app[CHANNELS].public("live")]
    await ws.close()


@pytest.fixture
async def database_proxy(settings):
    url = yarl.URL(settings.database_url)
    proxy = TcpProxy(url.host, url.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.kill()


@pytest.fixture
async def fragile_client(aiohttp_client, settings, redis_server, database_proxy):
    """An app whose Redis and PostgreSQL the test can take away."""
    database_url = str(yarl.URL(settings.database_url).with_port(database_proxy.port))
    app = create_app(settings.model_copy(update={"redis_url": redis_server.url, "database_url": database_url}))
    return await aiohttp_client(app)


async def test_authenticating_while_dependencies_are_down_closes_with_1013(
    fragile_client, redis_server, database_proxy
):
    user = await register(fragile_client)
    redis_server.kill()
    await database_proxy.kill()

    ws = await fragile_client.ws_connect(f"{WS}?token={user['access_token']}")
    assert (await ws_receive(ws))["code"] == "unavailable"
    assert await closed_with(ws) == 1013

    ws = await fragile_client.ws_connect(WS)
    await ws.send_json({"type": "auth", "token": user["access_token"]})
    assert (await ws_receive(ws))["code"] == "unavailable"
    assert await closed_with(ws) == 1013


async def test_a_stream_channel_while_postgresql_is_down_is_unavailable(fragile_client, database_proxy):
    stream = await make_stream(fragile_client)
    ws = await fragile_client.ws_connect(WS)
    await database_proxy.kill()
    await refused(ws, f"live:{stream}")
    await ws_subscribe(ws, "live")  # the socket stays, and Redis-only channels work
    await ws.close()


async def test_a_stream_channel_while_postgresql_is_frozen_is_unavailable(aiohttp_client, settings, database_proxy):
    """A frozen database times out (DatabaseUnavailable): the subscriber hears it, the socket stays."""
    database_url = str(yarl.URL(settings.database_url).with_port(database_proxy.port))
    changes = {"database_url": database_url, "db_statement_timeout": 0.5, "db_connect_timeout": 0.5}
    client = await aiohttp_client(create_app(settings.model_copy(update=changes)))
    stream = await make_stream(client)
    ws = await client.ws_connect(WS)
    database_proxy.freeze()
    await refused(ws, f"live:{stream}")
    await ws_subscribe(ws, "live")
    database_proxy.thaw()
    await ws.close()


async def test_nothing_leaks_when_a_subscriber_leaves_during_an_outage(client, redis_server):
    hub = client.app[HUB]
    ws = await client.ws_connect(WS)
    await ws_subscribe(ws, "live")
    redis_server.kill()
    await wait_until(lambda: not hub.online)
    await ws.close()
    await wait_until(lambda: hub.connection_count == 0)
    redis_server.start()
    await wait_until(lambda: hub.online)
    assert redis_server.subscribers(client.app[CHANNELS].public("live")) == 0


async def test_ending_sessions_while_redis_is_down_closes_this_process_sockets(client, redis_server, caplog):
    user = await register(client)
    ws = await client.ws_connect(f"{WS}?token={user['access_token']}")
    await ws_subscribe(ws, "live")
    session = uuid.UUID(jwt.decode(user["access_token"], options={"verify_signature": False})["sid"])
    redis_server.kill()
    await close_sessions(client.app, [session])  # the caller (a logout) does not fail
    assert await closed_with(ws) == 4401
    assert "could not ask the web processes to close the sockets of 1 ended session(s)" in caplog.text
