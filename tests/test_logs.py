"""The JSON access log: one line per request, its fields, written in batches shortly after."""

import asyncio
import io
import json
import logging
import re

import pytest

from tests.clients import EdgeTestServer
from veza import logs
from veza.logs import AccessLogger


class Stdout(io.BytesIO):
    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.getvalue().splitlines()]


@pytest.fixture
def stdout(monkeypatch):
    logs._access_lines.flush()
    out = Stdout()
    monkeypatch.setattr(logs._access_lines, "stream", out)
    return out


@pytest.fixture
async def logged_client(aiohttp_client, app, stdout, caplog):
    caplog.set_level(logging.INFO, logger="veza.access")  # the log is on at INFO, as `veza serve` sets it
    server = EdgeTestServer(app)
    # The runner's arguments, as `veza serve` passes them (TestServer only takes them here).
    await server.start_server(access_log_class=AccessLogger, access_log=logging.getLogger("veza.access"))
    return await aiohttp_client(server)


async def test_each_request_is_one_json_line_with_its_fields(logged_client, stdout):
    resp = await logged_client.get("/api/v1/health", headers={"User-Agent": 'probe "1"\\', "X-Request-ID": "abc-1"})
    assert resp.status == 200
    await logged_client.get("/api/v1/nowhere/%E2%9C%93%22")
    logs._access_lines.flush()
    first, second = stdout.lines()
    assert first == {
        "ts": first["ts"],
        "level": "info",
        "logger": "veza.access",
        "method": "GET",
        "path": "/api/v1/health",
        "status": 200,
        "duration_ms": first["duration_ms"],
        "bytes": first["bytes"],
        "remote": "127.0.0.1",
        "request_id": "abc-1",
        "user_agent": 'probe "1"\\',
    }
    assert first["ts"].endswith("Z") and len(first["ts"]) == len("2026-01-01T00:00:00.000Z")
    assert isinstance(first["duration_ms"], float) and 0 <= first["duration_ms"] < 5000
    assert (second["path"], second["status"]) == ('/api/v1/nowhere/✓"', 404)
    assert first["bytes"] > len(await resp.read())  # what went out: headers and body
    assert re.fullmatch(r"[0-9a-f]{32}", second["request_id"])  # no id given: one made up
    assert second["user_agent"].startswith("Python/")


async def test_lines_reach_stdout_shortly_without_a_flush(logged_client, stdout):
    await logged_client.get("/api/v1/health")
    await asyncio.sleep(logs.AccessLines.FLUSH_AFTER + 0.2)
    assert [line["path"] for line in stdout.lines()] == ["/api/v1/health"]


async def test_a_full_batch_is_written_at_once(stdout):
    lines = logs.AccessLines(stdout)
    entry = (1.0, 0.001, 10, "id-1", "veza.access", "GET", "/api/v1/health", 200, "127.0.0.1", None)
    for _ in range(lines.BATCH - 1):
        lines.add(entry)
    assert stdout.lines() == []
    lines.add(entry)
    written = stdout.lines()
    assert len(written) == lines.BATCH and written[-1]["ts"] == "1970-01-01T00:00:01.000Z"
    lines.add(entry)
    await asyncio.sleep(lines.FLUSH_AFTER + 0.2)  # the rest, when it is due
    assert len(stdout.lines()) == lines.BATCH + 1


def test_a_lone_surrogate_is_escaped_not_lost(stdout):
    lines = logs.AccessLines(stdout)
    lines._pending.append((0.0, 0.001, 10, None, "veza.access", "GET", "/a\ud800", 400, None, None))
    lines.flush()
    [line] = stdout.lines()
    assert (line["path"], line["remote"], line["request_id"], line["user_agent"]) == ("/a\ud800", None, None, None)
    assert line["ts"] == "1970-01-01T00:00:00.000Z"
