"""Text PostgreSQL cannot hold (NUL, lone surrogates) is refused where input is parsed: 422 naming the field."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.factories import make_product, make_user, upload_file
from veza.app import create_app
from veza.http import UNSTORABLE_MESSAGE, unstorable_fields

SECRET = "rtmp-callback-secret-for-tests"
NUL = "a\u0000b"


@pytest.fixture
def app(settings):
    return create_app(settings.model_copy(update={"rtmp_callback_secret": SECRET}))


@pytest.fixture
async def seller(client):
    user = await make_user(client)
    user["file"] = await upload_file(client, user)
    user["product"] = await make_product(client, user)
    return user


def assert_refused(status: int, body: dict, fields: set[str]) -> None:
    assert status == 422, body
    assert body["code"] == "validation_error"
    assert {d["field"] for d in body["details"]} == fields
    assert all(d["message"] == UNSTORABLE_MESSAGE for d in body["details"])


def test_every_string_is_checked_object_keys_and_nesting_included():
    data = {"a": "x\x00", "b": ["ok", "\ud800"], "c\x00": 1, "d": {"e": [{"f": "\udfff"}]}, "ok": ["fine", 1, None]}
    assert unstorable_fields(data) == ["a", "b.1", "c\\u0000", "d.e.0.f"]
    assert unstorable_fields("x\x00") == ["body"]
    assert unstorable_fields("x\x00", "name") == ["name"]
    assert unstorable_fields({"emoji": "\U0001f600", "text": "\u00e9\u4e2d"}) == []
    deep: list = []
    for _ in range(5000):  # deeper than the interpreter's recursion limit
        deep = [deep]
    assert unstorable_fields({"x": deep}) == []


JSON_CASES = [
    ("POST", "/auth/login", {"email": "a\u0000@x.com", "password": "x"}, {"email"}),
    ("POST", "/auth/register", {"email": "a\u0000@x.com", "username": "abc", "password": "x" * 10}, {"email"}),
    ("POST", "/auth/refresh", {"refresh_token": NUL}, {"refresh_token"}),
    ("POST", "/live/streams", {"title": NUL}, {"title"}),
    ("POST", "/live/streams", {"title": "x", "tags": ["ok", NUL]}, {"tags.1"}),
    ("POST", "/live/streams", {"title": "x", NUL: 1}, {"a\\u0000b"}),
    ("PATCH", "/users/me", {"username": NUL}, {"username"}),
    ("PATCH", "/marketplace/products/{product}", {"description": NUL}, {"description"}),
    ("PATCH", "/cloud/files/{file}", {"name": NUL, "tags": [NUL]}, {"name", "tags.0"}),
]


@pytest.mark.parametrize(("method", "path", "payload", "fields"), JSON_CASES)
async def test_json_fields(client, seller, method, path, payload, fields):
    url = "/api/v1" + path.format(product=seller["product"]["id"], file=seller["file"]["id"])
    resp = await client.request(method, url, json=payload, headers=seller["headers"])
    assert_refused(resp.status, await resp.json(), fields)


async def test_product_creation(client, seller):
    body = {"title": NUL, "kind": "beat", "price_cents": 100, "asset_file_id": seller["file"]["id"]}
    resp = await client.post("/api/v1/marketplace/products", json=body, headers=seller["headers"])
    assert_refused(resp.status, await resp.json(), {"title"})


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/tags/suggest?q=a%00", "q"),
        ("/cloud/files?search=a%00", "search"),
        ("/cloud/files?tag=a%00", "tag"),
        ("/marketplace/products?search=a%00", "search"),
        ("/live/streams?is_live=true%00", "is_live"),
    ],
)
async def test_query_parameters(client, seller, path, field):
    resp = await client.get("/api/v1" + path, headers=seller["headers"])
    assert_refused(resp.status, await resp.json(), {field})


@pytest.mark.parametrize(("field", "value"), [("tags", NUL), ("name", NUL)])
async def test_multipart_fields(client, seller, field, value):
    form = aiohttp.FormData()
    form.add_field("file", b"RIFF....WAVE", filename="beat.wav", content_type="audio/wav")
    form.add_field(field, value)
    resp = await client.post("/api/v1/cloud/files", data=form, headers=seller["headers"])
    assert_refused(resp.status, await resp.json(), {field})
    listed = await client.get("/api/v1/cloud/files", headers=seller["headers"])
    assert (await listed.json())["data"]["total"] == 2  # the seller's two files, nothing more


async def test_rtmp_callback_form_field(client, seller):
    resp = await client.post(f"/api/v1/live/rtmp/on_publish?secret={SECRET}", data={"name": NUL, "app": "live"})
    assert_refused(resp.status, await resp.json(), {"name"})


async def test_refresh_cookie_that_is_not_utf8(client):
    """Header bytes that are not UTF-8 reach the app as lone surrogates; the cookie must not reach a store."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(
        b"POST /api/v1/auth/refresh HTTP/1.1\r\nHost: x\r\nCookie: veza_refresh=\xff\xfe\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 422"), answer
    assert b'"field":"veza_refresh"' in body
