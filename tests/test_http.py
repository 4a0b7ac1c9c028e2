"""The envelope, bad input, request ids and headers, on a small route table of the test's own."""

import asyncio
import json
import logging

import pytest
from aiohttp import web
from pydantic import BaseModel, Field

from tests.factories import make_product, make_user
from veza.app import add_routes, create_app
from veza.edge import EdgeRunner
from veza.http import Page, endpoint, ok, uuid_param
from veza.keys import METRICS

routes = web.RouteTableDef()


class EchoIn(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    count: int = Field(ge=0, le=1000)


@routes.post("/echo")
@endpoint("Echo a body", body=EchoIn, response=EchoIn, auth="public")
async def echo(request, body: EchoIn):
    return ok(body)


@routes.get("/things/{id}")
@endpoint("A thing by id", auth="public")
async def thing(request):
    return ok({"id": uuid_param(request)})


@routes.get("/things")
@endpoint("A page of things", query=Page, auth="public")
async def things(request, query: Page):
    return ok({"things": [], "total": 0, "limit": query.limit, "offset": query.offset})


@routes.get("/boom")
async def boom(request):
    raise RuntimeError("a bug")


@pytest.fixture
async def client(aiohttp_client, settings):
    app = create_app(settings.model_copy(update={"max_body_bytes": 1024, "cors_origins": ["https://app.veza.test"]}))
    add_routes(app, routes, "/api/v1/test")
    return await aiohttp_client(app)


def assert_envelope(body, code):
    assert body["success"] is False
    assert body["code"] == code
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["details"], list)
    assert body["request_id"]


async def test_valid_body_is_echoed_in_the_envelope(client):
    resp = await client.post("/api/v1/test/echo", json={"name": "ada", "count": 3})
    assert resp.status == 200
    assert await resp.json() == {"success": True, "data": {"name": "ada", "count": 3}}


@pytest.mark.parametrize(
    ("data", "headers", "status", "code"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "malformed_json"),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400, "malformed_json"),
        (b'"text"', {"Content-Type": "application/json"}, 400, "malformed_json"),
        (b"", {"Content-Type": "application/json"}, 400, "empty_body"),
        (b"name=ada", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        (b'{"name": "ada", "count": 1}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (b"[" * 100_000, {"Content-Type": "application/json"}, 413, "payload_too_large"),
        (b'{"name": "' + b"a" * 2000 + b'"}', {"Content-Type": "application/json"}, 413, "payload_too_large"),
        (b"[" * 1000, {"Content-Type": "application/json"}, 400, "malformed_json"),
        (
            '{"name": "ada", "count": 1}'.encode("utf-16"),
            {"Content-Type": "application/json; charset=utf-16"},
            415,
            "unsupported_media_type",
        ),
        (
            b'{"name": "ada", "count": 1}',
            {"Content-Type": "application/json; charset=latin-1"},
            415,
            "unsupported_media_type",
        ),
    ],
)
async def test_bad_bodies_get_the_envelope(client, data, headers, status, code):
    resp = await client.post("/api/v1/test/echo", data=data, headers=headers)
    assert resp.status == status
    assert_envelope(await resp.json(), code)


async def raw_exchange(port: int, *pieces: bytes, pause: float = 0.0) -> bytes:
    """Send `pieces` over one connection, `pause` seconds apart, then read until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for number, piece in enumerate(pieces):
            if number:
                await asyncio.sleep(pause)
            writer.write(piece)
            await writer.drain()
        # Well under aiohttp's 10 s of lingering: the connection must end right after the answer.
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


@pytest.fixture
async def idle_limited(aiohttp_client, settings):
    app = create_app(settings.model_copy(update={"body_idle_timeout": 0.3}))
    add_routes(app, routes, "/api/v1/test")
    return await aiohttp_client(app)


ECHO_BODY = b'{"name": "ada", "count": 3}'
ECHO_HEAD = (
    b"POST /api/v1/test/echo HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(ECHO_BODY)
)


async def test_a_body_that_stops_arriving_is_408_and_the_connection_closes(idle_limited):
    keep_alive = ECHO_HEAD.replace(b"Connection: close\r\n", b"")
    answer = await raw_exchange(idle_limited.server.port, keep_alive + ECHO_BODY[:11])  # and then nothing
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"\r\nConnection: close" in head
    assert_envelope(json.loads(body), "request_timeout")


async def test_a_body_arriving_in_pieces_within_the_gap_is_read(idle_limited):
    pieces = [ECHO_BODY[:11], ECHO_BODY[11:20], ECHO_BODY[20:]]
    answer = await raw_exchange(idle_limited.server.port, ECHO_HEAD, *pieces, pause=0.15)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {"success": True, "data": {"name": "ada", "count": 3}}


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"name", "count"}),
        ({"name": "", "count": 1}, {"name"}),
        ({"name": "ada", "count": "many"}, {"count"}),
        ({"name": "ada", "count": 10**30}, {"count"}),
        ({"name": ["a"], "count": -1}, {"name", "count"}),
    ],
)
async def test_invalid_fields_are_422_with_details(client, payload, fields):
    resp = await client.post(
        "/api/v1/test/echo", data=json.dumps(payload), headers={"Content-Type": "application/json"}
    )
    assert resp.status == 422
    body = await resp.json()
    assert_envelope(body, "validation_error")
    assert {d["field"] for d in body["details"]} == fields


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/json; charset=UTF8"])
async def test_utf8_charset_is_accepted(client, content_type):
    resp = await client.post(
        "/api/v1/test/echo", data='{"name": "\u00e9", "count": 1}'.encode(), headers={"Content-Type": content_type}
    )
    assert resp.status == 200
    assert (await resp.json())["data"]["name"] == "\u00e9"


async def test_unknown_route_and_wrong_method(client):
    resp = await client.get("/api/v1/nope")
    assert resp.status == 404
    assert_envelope(await resp.json(), "not_found")
    resp = await client.delete("/api/v1/health")
    assert resp.status == 405
    assert "GET" in resp.headers["Allow"]
    assert_envelope(await resp.json(), "method_not_allowed")


async def test_an_id_that_is_not_a_uuid_is_404(client):
    resp = await client.get("/api/v1/test/things/not-a-uuid")
    assert resp.status == 404
    assert_envelope(await resp.json(), "not_found")
    resp = await client.get("/api/v1/test/things/6f1c1d64-8b5d-4e8e-9a55-1a0d2f7f4c11")
    assert (await resp.json())["data"]["id"] == "6f1c1d64-8b5d-4e8e-9a55-1a0d2f7f4c11"


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=-5", "offset=-1", "limit=abc", "limit=" + "9" * 50])
async def test_bad_paging_is_422(client, query):
    resp = await client.get(f"/api/v1/test/things?{query}")
    assert resp.status == 422
    assert_envelope(await resp.json(), "validation_error")


async def test_paging_defaults(client):
    resp = await client.get("/api/v1/test/things")
    assert (await resp.json())["data"] == {"things": [], "total": 0, "limit": 20, "offset": 0}


async def test_a_bug_is_a_500_envelope_without_internals(client, caplog):
    resp = await client.get("/api/v1/test/boom")
    assert resp.status == 500
    body = await resp.json()
    assert_envelope(body, "internal_error")
    assert "a bug" not in json.dumps(body)
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


async def test_request_id_is_echoed_or_made(client):
    resp = await client.get("/api/v1/health", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123"
    resp = await client.get("/api/v1/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert resp.headers["X-Request-ID"] != "bad id\twith spaces"
    assert len(resp.headers["X-Request-ID"]) == 32
    resp = await client.get("/api/v1/nope", headers={"X-Request-ID": "trace-9"})
    assert (await resp.json())["request_id"] == "trace-9"


async def test_security_headers_on_every_answer(client):
    for path in ("/api/v1/health", "/api/v1/nope"):
        resp = await client.get(path)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in resp.headers["Content-Security-Policy"]


async def test_cors_for_configured_origins_only(client):
    pre = await client.options(
        "/api/v1/test/echo",
        headers={"Origin": "https://app.veza.test", "Access-Control-Request-Method": "POST"},
    )
    assert pre.status == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "https://app.veza.test"
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    denied = await client.options(
        "/api/v1/test/echo",
        headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"},
    )
    assert denied.status == 403
    assert "Access-Control-Allow-Origin" not in denied.headers
    resp = await client.get("/api/v1/health", headers={"Origin": "https://evil.test"})
    assert "Access-Control-Allow-Origin" not in resp.headers
    resp = await client.get("/api/v1/health", headers={"Origin": "https://app.veza.test"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.veza.test"


@pytest.fixture
async def wildcard(aiohttp_client, settings):
    return await aiohttp_client(create_app(settings.model_copy(update={"cors_origins": ["*"]})))


@pytest.mark.parametrize("origin", ["https://anyone.test", "null"])
async def test_a_cors_wildcard_lets_any_origin_read_without_credentials(wildcard, origin):
    resp = await wildcard.get("/api/v1/health", headers={"Origin": origin})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in resp.headers
    assert "Origin" in resp.headers.getall("Vary")
    pre = await wildcard.options(
        "/api/v1/auth/login", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
    )
    assert pre.status == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in pre.headers


async def test_null_is_never_reflected_even_when_listed(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings.model_copy(update={"cors_origins": ["null"]})))
    resp = await client.get("/api/v1/health", headers={"Origin": "null"})
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert "Access-Control-Allow-Credentials" not in resp.headers


@pytest.mark.parametrize("origin", [None, "https://app.veza.test", "https://evil.test"])
async def test_every_answer_cors_can_change_varies_on_origin(client, origin):
    headers = {"Origin": origin} if origin else {}
    for path in ("/api/v1/health", "/api/v1/nope", "/api/docs"):
        resp = await client.get(path, headers=headers)
        assert "Origin" in resp.headers.getall("Vary", []), path


async def test_without_cors_origins_answers_do_not_vary_on_origin(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings.model_copy(update={"cors_origins": []})))
    resp = await client.get("/api/v1/health", headers={"Origin": "https://anyone.test"})
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert "Vary" not in resp.headers


async def test_the_server_header_names_no_versions(client):
    answers = [
        await client.get("/api/v1/health"),
        await client.get("/api/v1/nope"),
        await client.get("/api/v1/test/boom"),
        await client.put("/api/v1/health"),
        await client.get("/api/docs"),
        await client.post("/api/v1/test/echo", data=b"x" * 2000, headers={"Content-Type": "application/json"}),
    ]
    assert [resp.headers["Server"] for resp in answers] == ["Veza"] * len(answers)
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(
        b"GET /api/v1/ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    handshake = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    writer.close()
    assert handshake.startswith(b"HTTP/1.1 101 ")
    assert b"\r\nServer: Veza\r\n" in handshake
    # A request aiohttp refuses by itself, before any middleware.
    malformed = await raw_exchange(client.server.port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n")
    assert b" 400 Bad Request\r\n" in malformed
    assert b"\r\nServer: Veza\r\n" in malformed


@pytest.fixture
async def served(settings):
    """The app on a runner as `veza serve` makes it: a handler runs on when its client leaves
    (the test server cancels it instead)."""
    app = create_app(settings)
    add_routes(app, routes, "/api/v1/test")
    arrived = asyncio.Event()

    @web.middleware
    async def note_arrival(request, handler):  # the innermost: the handler reads the body next
        arrived.set()
        return await handler(request)

    app.middlewares.append(note_arrival)
    runner = EdgeRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield app, site.port, arrived
    await runner.cleanup()


async def test_a_client_leaving_mid_body_is_not_logged_as_an_error(served, caplog):
    app, port, arrived = served
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(ECHO_HEAD + ECHO_BODY[:11])
    await writer.drain()
    await asyncio.wait_for(arrived.wait(), 10)  # the handler is waiting for the rest of the body
    writer.transport.abort()
    answered = 'route="/api/v1/test/echo",status="400"'
    for _ in range(100):  # the server notices the reset within a loop turn or two
        if answered in app[METRICS].render().decode():
            break
        await asyncio.sleep(0.02)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert answered in app[METRICS].render().decode()


def test_the_openapi_document_declares_408_where_a_body_is_read(app):
    from veza.openapi import build_spec

    paths = build_spec(app)["paths"]
    assert paths["/api/v1/auth/login"]["post"]["responses"]["408"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert "408" in paths["/api/v1/cloud/files"]["post"]["responses"]
    assert "408" not in paths["/api/v1/health"]["get"]["responses"]


async def test_a_request_line_under_16_kib_reaches_the_app(client):
    request = b"GET /api/v1/health?" + b"a" * 15_000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = await raw_exchange(client.server.port, request)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")


async def test_large_json_answers_are_compressed_for_clients_that_accept_it(client):
    seller = await make_user(client)
    for n in range(8):
        await make_product(client, seller, title=f"A rather long product title number {n}", description="x" * 200)
    catalog = "/api/v1/marketplace/products"
    plain = await client.get(catalog, headers={"Accept-Encoding": "identity"})
    assert plain.status == 200 and "Content-Encoding" not in plain.headers
    size = int(plain.headers["Content-Length"])
    assert size > 1024

    packed = await client.get(catalog, headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers.getall("Vary")
    assert int(packed.headers["Content-Length"]) < size / 3
    assert await packed.json() == await plain.json()  # the client decompressed it

    small = await client.get("/api/v1/health", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers  # not worth it under a kilobyte
