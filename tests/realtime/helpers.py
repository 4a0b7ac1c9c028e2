"""Helpers of the real-time tests: streams to follow, close codes."""

from __future__ import annotations

import uuid

from aiohttp import WSMsgType

from tests.factories import register


async def make_stream(client) -> uuid.UUID:
    owner = await register(client)
    resp = await client.post("/api/v1/live/streams", json={"title": "A stream"}, headers=owner["headers"])
    assert resp.status == 201, await resp.text()
    return uuid.UUID((await resp.json())["data"]["id"])


async def closed_with(ws, timeout: float = 5) -> int | None:
    """Read until the server closes the socket; the code of its close frame.

    (Not `ws.close_code`: aiohttp's client turns it into 1006 when its answering close frame
    finds the transport closed already, as aiohttp's server closes it at once when the close
    comes from another task than the socket's handler.)
    """
    while True:
        msg = await ws.receive(timeout=timeout)
        if msg.type == WSMsgType.CLOSE:
            return msg.data
        if msg.type in (WSMsgType.CLOSING, WSMsgType.CLOSED):
            return ws.close_code
