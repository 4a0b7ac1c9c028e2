"""Two real web processes on one port (`veza serve --processes 2`, SO_REUSEPORT) and a real worker:
an event emitted by either web process, or by the worker, reaches the sockets held by both."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import aiohttp
import psutil
import pytest

from tests.factories import PASSWORD, bearer, ws_receive, ws_subscribe

pytestmark = pytest.mark.slow

RTMP_SECRET = "rtmp-secret-of-two-processes"
START_TIMEOUT = 120  # seconds; the machine may be busy


def stop(process: subprocess.Popen) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


@pytest.fixture
def stack(settings, unused_tcp_port, tmp_path):
    """`veza serve --processes 2` on a port and `veza worker`; their pids and the port.

    The JWT secret is left unset, as in development: the processes must agree on the one generated.
    """
    env = {
        **os.environ,
        "VEZA_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "DATA_DIR": str(tmp_path / "data"),
        "RTMP_CALLBACK_SECRET": RTMP_SECRET,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("JWT_SECRET", None)
    port = unused_tcp_port
    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in ("web", "worker")}
    web = subprocess.Popen(
        [sys.executable, "-m", "veza", "serve", "--processes", "2", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=logs["web"],
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "veza", "worker"], env=env, stdout=logs["worker"], stderr=subprocess.STDOUT
    )
    try:
        pids = listening_children(web, port)
        yield {"port": port, "pids": pids, "url": f"http://127.0.0.1:{port}"}
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        assert stop(web) == 0, (tmp_path / "web.log").read_text()[-3000:]
    finally:
        stop(web)
        stop(worker)
        for log in logs.values():
            log.close()


def listening_children(parent: subprocess.Popen, port: int) -> set[int]:
    """The pids of the parent's children once two of them listen on the port."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert parent.poll() is None, f"veza serve --processes 2 exited with {parent.returncode}"
        listening = set()
        for child in psutil.Process(parent.pid).children():
            with contextlib.suppress(psutil.NoSuchProcess):
                if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in child.net_connections()):
                    listening.add(child.pid)
        if len(listening) == 2:
            return listening
        time.sleep(0.2)
    raise AssertionError("two web processes did not listen on the port")


def holder(pids: set[int], server_port: int, client_port: int) -> int:
    """The web process holding the server end of the connection from `client_port`."""
    for pid in pids:
        for c in psutil.Process(pid).net_connections(kind="tcp"):
            if c.laddr.port == server_port and c.raddr and c.raddr.port == client_port:
                return pid
    raise AssertionError(f"no web process holds the connection from port {client_port}")


class PinnedConnection:
    """A keep-alive HTTP/1.1 connection to one chosen web process (connecting until the kernel picks it)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def to(cls, stack: dict[str, Any], pid: int) -> PinnedConnection:
        for _ in range(200):
            connection = cls(*await asyncio.open_connection("127.0.0.1", stack["port"]))
            status, _ = await connection.request("GET", "/api/v1/health")  # answered: accepted by a process
            assert status == 200
            if holder(stack["pids"], stack["port"], connection.writer.get_extra_info("sockname")[1]) == pid:
                return connection
            connection.close()
        raise AssertionError(f"200 connections and none reached web process {pid}")

    async def request(self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None):
        head = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        response = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 30)
        lines = response.decode().split("\r\n")
        fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        length = int(next(value for name, value in fields.items() if name.lower() == "content-length"))
        payload = await asyncio.wait_for(self.reader.readexactly(length), 30)
        return int(lines[0].split()[1]), json.loads(payload) if payload else None

    async def rtmp_callback(self, event: str, key: str):
        form = f"app=live&name={key}&clientid=7&addr=127.0.0.1&call={event}".encode()
        return await self.request(
            "POST",
            f"/api/v1/live/rtmp/{event}?secret={RTMP_SECRET}",
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )

    def close(self) -> None:
        self.writer.close()


async def register(session: aiohttp.ClientSession, name: str) -> dict[str, Any]:
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    resp = await session.post("/api/v1/auth/register", json=body)
    assert resp.status == 201, await resp.text()
    return (await resp.json())["data"]


async def sockets_on_both(session, stack, token: str) -> dict[int, list[aiohttp.ClientWebSocketResponse]]:
    """The follower's sockets, each on `notifications` and `live`, opened until both processes hold two."""
    held: dict[int, list] = {pid: [] for pid in stack["pids"]}
    for _ in range(100):
        if all(len(sockets) >= 2 for sockets in held.values()):
            return held
        ws = await session.ws_connect(f"/api/v1/ws?token={token}")
        await ws_subscribe(ws, "notifications")
        await ws_subscribe(ws, "live")
        held[holder(stack["pids"], stack["port"], ws.get_extra_info("sockname")[1])].append(ws)
    raise AssertionError(f"100 sockets and still not two on each process: {[len(s) for s in held.values()]}")


async def everyone_receives(held, event: str, **data: Any) -> None:
    for pid, sockets in held.items():
        for ws in sockets:
            message = await ws_receive(ws, type_="event", timeout=30)
            assert message["event"] == event, (pid, message)
            assert data.items() <= message["data"].items(), (pid, message)


async def test_events_from_either_web_process_or_the_worker_reach_sockets_on_both(stack):
    first, second = sorted(stack["pids"])
    async with aiohttp.ClientSession(stack["url"]) as session:
        streamer = await register(session, "streamer")
        follower = await register(session, "follower")
        resp = await session.get("/api/v1/live/streams/me/key", headers=bearer(streamer["access_token"]))
        assert resp.status == 200, await resp.text()
        key = (await resp.json())["data"]
        held = await sockets_on_both(session, stack, follower["access_token"])
        on_first, on_second = await PinnedConnection.to(stack, first), await PinnedConnection.to(stack, second)
        try:
            # nginx-rtmp's callbacks: the stream goes live through one process, ends through the other.
            status, body = await on_first.rtmp_callback("on_publish", key["stream_key"])
            assert status == 302, body
            await everyone_receives(held, "stream.started", id=key["stream_id"], is_live=True)
            status, body = await on_second.rtmp_callback("on_publish_done", key["stream_key"])
            assert status == 200, body
            await everyone_receives(held, "stream.ended", id=key["stream_id"], is_live=False)

            # A token signed by one process is good on the other; the worker builds the export and notifies.
            follower_auth = {"Authorization": f"Bearer {follower['access_token']}"}
            status, body = await on_second.request("POST", "/api/v1/users/me/export", headers=follower_auth)
            assert status == 202, body
            export_id = body["data"]["export_id"]
            for pid, sockets in held.items():
                for ws in sockets:
                    message = await ws_receive(ws, type_="event", timeout=60)
                    assert message["event"] == "notification.created", (pid, message)
                    assert message["data"]["type"] == "export.ready", (pid, message)
                    assert message["data"]["data"]["export_id"] == export_id
        finally:
            on_first.close()
            on_second.close()
            for sockets in held.values():
                for ws in sockets:
                    await ws.close()


def test_processes_refuses_port_zero(settings):
    result = subprocess.run(
        [sys.executable, "-m", "veza", "serve", "--processes", "2", "--port", "0"],
        env={**os.environ, "VEZA_ENV": "test", "PORT": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--processes needs a fixed port" in result.stderr


def test_a_web_process_that_dies_stops_the_others_and_the_command_fails(settings, unused_tcp_port, tmp_path):
    """So that the supervisor above (systemd, a Procfile runner) restarts them all, none left half-serving."""
    env = {**os.environ, "VEZA_ENV": "test", "DATABASE_URL": settings.database_url, "DATA_DIR": str(tmp_path)}
    command = ["veza", "serve", "--processes", "2", "--host", "127.0.0.1", "--port", str(unused_tcp_port)]
    web = subprocess.Popen(
        [sys.executable, "-m", *command],
        env=env,
        stdout=subprocess.PIPE,  # the JSON log lines
        stderr=subprocess.STDOUT,
    )
    try:
        victim, survivor = sorted(listening_children(web, unused_tcp_port))
        os.kill(victim, signal.SIGKILL)
        log, _ = web.communicate(timeout=30)
        assert web.returncode != 0
        assert not psutil.pid_exists(survivor) or psutil.Process(survivor).status() == psutil.STATUS_ZOMBIE
        assert f"web process {victim} exited with -9: stopping the others".encode() in log
    finally:
        stop(web)
        web.stdout.close()
