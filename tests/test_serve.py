"""How `veza serve` runs: connections capped per address, the envelope on what the HTTP parser refuses, one log
line per interval for refused accepts."""

import asyncio
import contextlib
import json
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from unittest.mock import ANY

import pytest

from veza.app import create_app
from veza.edge import EdgeRunner
from veza.serve import ACCEPT_FAILURE, AcceptFailureLog, CappedTCPSite

pytestmark = pytest.mark.slow

HEALTH = b"GET /api/v1/health HTTP/1.1\r\nHost: test\r\n\r\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_refused_accepts_make_one_log_line_per_interval(caplog):
    loop = asyncio.get_running_loop()
    clock = Clock()
    handler = AcceptFailureLog(interval=10, clock=clock)
    refused = {"message": ACCEPT_FAILURE, "exception": OSError(24, "Too many open files")}
    with caplog.at_level(logging.INFO):
        for _ in range(5000):
            handler(loop, refused)
            clock.now += 0.001  # 5,000 in 5 s
        clock.now += 6
        for _ in range(3):
            handler(loop, refused)
    lines = [r.getMessage() for r in caplog.records if r.name == "veza.serve"]
    assert lines == [
        "cannot accept connections: [Errno 24] Too many open files (0 more refused accepts since the last line)",
        "cannot accept connections: [Errno 24] Too many open files (4999 more refused accepts since the last line)",
    ]


async def test_other_loop_errors_still_reach_the_default_handler(caplog):
    handler = AcceptFailureLog(interval=10)
    for _ in range(3):
        handler(asyncio.get_running_loop(), {"message": "something else broke", "exception": ValueError("x")})
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == ["something else broke"] * 3


async def exchange(reader, writer) -> bytes:
    """Send a health request on an open connection; its status line, or b"" if the server closed it."""
    writer.write(HEALTH)
    try:
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    except (asyncio.IncompleteReadError, ConnectionError):
        return b""
    lines = head.split(b"\r\n")
    length = next(line for line in lines if line.lower().startswith(b"content-length:")).split(b":")[1]
    await reader.readexactly(int(length))
    return lines[0]


@pytest.fixture
async def connect():
    """Connections to a port from a given source address, closed at the end of the test."""
    opened = []

    async def open_from(port: int, source: str):
        connection = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        opened.append(connection[1])
        return connection

    yield open_from
    for writer in opened:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@pytest.fixture
async def capped_site(settings):
    runner = EdgeRunner(create_app(settings))
    await runner.setup()
    site = CappedTCPSite(runner, "127.0.0.1", 0, per_address=3)
    await site.start()
    yield site
    await runner.cleanup()


async def test_one_address_holds_at_most_the_cap_and_others_still_get_in(capped_site, connect):
    port = capped_site.port
    held = [await connect(port, "127.0.0.1") for _ in range(3)]
    for connection in held:
        assert await exchange(*connection) == b"HTTP/1.1 200 OK"
    assert await exchange(*await connect(port, "127.0.0.1")) == b""  # the fourth is closed unanswered
    assert await exchange(*await connect(port, "127.0.0.2")) == b"HTTP/1.1 200 OK"
    assert capped_site.cap.open == {"127.0.0.1": 3, "127.0.0.2": 1}

    held[0][1].close()  # one leaves: a new connection from that address fits again
    for _ in range(200):
        if capped_site.cap.open["127.0.0.1"] == 2:
            break
        await asyncio.sleep(0.01)
    assert await exchange(*await connect(port, "127.0.0.1")) == b"HTTP/1.1 200 OK"


@pytest.mark.parametrize("uvloop", ["false", "true"])
def test_veza_serve_survives_running_out_of_descriptors_with_a_quiet_log(
    database_url, unused_tcp_port, tmp_path, uvloop
):
    """A real `veza serve` limited to 128 descriptors, sent 300 idle connections: it logs at most one
    line about the accepts it cannot make (not one per retry), still answers once they go, and stops
    on SIGTERM. On asyncio's loop that is one line; uvloop (libuv) closes the connections it cannot
    take without reporting them."""
    env = {
        **os.environ,
        "UVLOOP": uvloop,
        "VEZA_ENV": "test",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
        "MAX_CONNECTIONS_PER_ADDRESS": "0",
        "DATA_DIR": str(tmp_path),
    }
    log_path = tmp_path / "serve.log"

    def few_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))

    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "veza", "serve", "--host", "127.0.0.1", "--port", str(unused_tcp_port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=few_descriptors,
        )
    try:
        wait_listening(unused_tcp_port)
        idle = []
        for _ in range(300):
            try:
                idle.append(socket.create_connection(("127.0.0.1", unused_tcp_port), timeout=1))
            except OSError:
                break
        time.sleep(2.5)  # asyncio retries refused accepts every second
        for sock in idle:
            sock.close()
        assert health_answers(unused_tcp_port)
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    accept_lines = [r for r in records if "accept" in r["msg"]]
    assert len(accept_lines) <= 1 if uvloop == "true" else len(accept_lines) == 1
    assert all("Too many open files" in line["msg"] for line in accept_lines)


def wait_listening(port: int) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("veza serve did not start listening")


def health_answers(port: int) -> bool:
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(HEALTH.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
                if sock.recv(100).startswith(b"HTTP/1.1 200"):
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def test_the_open_files_limit_is_raised_to_the_hard_limit():
    script = (
        "import resource\n"
        "from veza.serve import raise_open_files_limit\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))\n"
        "raise_open_files_limit()\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard) and hard > 64)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "True", done.stderr


@pytest.mark.parametrize(
    ("request_bytes", "code"),
    [
        (b"GET /api/v1/health?" + b"a" * 17_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "line_too_long"),
        (b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n", "line_too_long"),
        (b"GET /api/v1/health?q=\x00 HTTP/1.1\r\nHost: x\r\n\r\n", "malformed_request"),
        (b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", "malformed_request"),
    ],
)
async def test_what_the_http_parser_refuses_gets_the_envelope(capped_site, connect, request_bytes, code, caplog):
    reader, writer = await connect(capped_site.port, "127.0.0.1")
    writer.write(request_bytes)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)  # then the server closes the connection
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 400 Bad Request\r\n")
    assert b"Content-Type: application/json" in head
    assert b"\r\nServer: Veza\r\n" in head + b"\r\n"
    assert json.loads(body) == {"success": False, "error": ANY, "code": code, "details": [], "request_id": None}
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
