"""Helpers of the real-time tests: streams to follow, close codes, and dependencies a test can kill."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable

import redis as redis_sync
from aiohttp import WSMsgType

from tests.factories import register

REDIS_SERVER = "/usr/bin/redis-server"


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


async def eventually(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        await asyncio.sleep(0.05)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A private redis-server on a free port, that a test may kill, restart, freeze and thaw."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.TemporaryDirectory(prefix="veza-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.dir.name,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis_sync.ConnectionError), redis_sync.Redis(port=self.port) as probe:
                if probe.ping():
                    return
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def subscribers(self, channel: str) -> int:
        with redis_sync.Redis(port=self.port) as client:
            return client.pubsub_numsub(channel)[0][1]

    def publish(self, channel: str, message: str) -> None:
        with redis_sync.Redis(port=self.port) as client:
            client.publish(channel, message)

    def close(self) -> None:
        if self.process is not None:
            self.thaw()
        self.kill()
        self.dir.cleanup()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a server; `cut()` drops every connection and refuses new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, upstream_writer}
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
