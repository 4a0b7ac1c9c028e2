"""A gear item's documents: upload (streamed into the quota), list, download with ranges, delete."""

import uuid

import aiohttp
import pytest
from aiohttp.multipart import content_disposition_filename, parse_content_disposition

from tests.factories import register
from tests.gear.helpers_docs import GEAR, make_item, upload_document, used_bytes, user_blobs
from veza.app import create_app
from veza.db import transaction
from veza.gear.documents import delete_item_documents
from veza.keys import DB


async def test_upload_list_download_and_delete(client):
    owner = await register(client)
    item = await make_item(client.app, owner)
    data = b"%PDF-1.7 " + bytes(range(256)) * 4
    resp = await upload_document(client, owner, item, data=data, type_="manual", filename="Moog Manual.pdf")
    assert resp.status == 201, await resp.text()
    document = (await resp.json())["data"]
    assert set(document) == {"id", "item_id", "type", "filename", "content_type", "size_bytes", "created_at"}
    assert (document["item_id"], document["type"], document["filename"]) == (item, "manual", "Moog Manual.pdf")
    assert (document["content_type"], document["size_bytes"]) == ("application/pdf", len(data))
    key = f"gear/{owner['user']['id']}/{item}/{document['id']}"  # generated, never the filename
    assert await user_blobs(client.app, owner) == [key]
    assert await client.app[DB].fetch_val("SELECT storage_key FROM gear_documents") == key
    assert await used_bytes(client.app, owner) == len(data)

    second = await upload_document(client, owner, item, data=b"receipt", type_="receipt", filename="r.pdf")
    assert second.status == 201
    second_id = (await second.json())["data"]["id"]
    resp = await client.get(f"{GEAR}/{item}/documents", headers=owner["headers"])
    assert resp.status == 200
    listed = (await resp.json())["data"]
    assert listed["total"] == 2
    assert [doc["id"] for doc in listed["documents"]] == [second_id, document["id"]]  # newest first
    page = await (await client.get(f"{GEAR}/{item}/documents?limit=1&offset=1", headers=owner["headers"])).json()
    assert (page["data"]["total"], [doc["id"] for doc in page["data"]["documents"]]) == (2, [document["id"]])

    download = f"{GEAR}/{item}/documents/{document['id']}/download"
    resp = await client.get(download, headers=owner["headers"])
    assert (resp.status, await resp.read()) == (200, data)
    assert resp.headers["Content-Type"] == "application/pdf"
    disposition, params = parse_content_disposition(resp.headers["Content-Disposition"])
    assert (disposition, content_disposition_filename(params, "filename")) == ("attachment", "Moog Manual.pdf")
    resp = await client.get(download, headers={**owner["headers"], "Range": "bytes=2-5"})
    assert (resp.status, await resp.read()) == (206, data[2:6])
    assert resp.headers["Content-Range"] == f"bytes 2-5/{len(data)}"
    resp = await client.get(download, headers={**owner["headers"], "Range": f"bytes={len(data)}-"})
    assert resp.status == 416

    resp = await client.delete(f"{GEAR}/{item}/documents/{document['id']}", headers=owner["headers"])
    assert (resp.status, (await resp.json())["data"]) == (200, {"deleted": True})
    assert await user_blobs(client.app, owner) == [f"gear/{owner['user']['id']}/{item}/{second_id}"]
    assert await used_bytes(client.app, owner) == len(b"receipt")
    assert (await client.get(download, headers=owner["headers"])).status == 404
    resp = await client.delete(f"{GEAR}/{item}/documents/{document['id']}", headers=owner["headers"])
    assert resp.status == 404
    listed = (await (await client.get(f"{GEAR}/{item}/documents", headers=owner["headers"])).json())["data"]
    assert [doc["id"] for doc in listed["documents"]] == [second_id]


async def test_another_users_item_and_documents_are_404(client):
    owner, other = await register(client), await register(client)
    item = await make_item(client.app, owner)
    document = (await (await upload_document(client, owner, item)).json())["data"]
    doc_path = f"{GEAR}/{item}/documents/{document['id']}"
    resp = await upload_document(client, other, item)
    assert resp.status == 404
    assert (await resp.json())["code"] == "not_found"
    assert (await client.get(f"{GEAR}/{item}/documents", headers=other["headers"])).status == 404
    assert (await client.get(f"{doc_path}/download", headers=other["headers"])).status == 404
    assert (await client.delete(doc_path, headers=other["headers"])).status == 404
    # The document through another of its owner's items, or through the other user's own item: not found.
    their_item = await make_item(client.app, other)
    assert (
        await client.get(f"{GEAR}/{their_item}/documents/{document['id']}/download", headers=other["headers"])
    ).status == 404
    own_other_item = await make_item(client.app, owner)
    path = f"{GEAR}/{own_other_item}/documents/{document['id']}"
    assert (await client.get(f"{path}/download", headers=owner["headers"])).status == 404
    assert (await client.delete(path, headers=owner["headers"])).status == 404
    assert await client.app[DB].fetch_val("SELECT count(*) FROM gear_documents") == 1
    assert await used_bytes(client.app, other) == 0
    assert await user_blobs(client.app, other) == []
    for bad in ["not-a-uuid", str(uuid.uuid4())]:
        assert (await upload_document(client, owner, bad)).status == 404
        assert (await client.get(f"{GEAR}/{bad}/documents", headers=owner["headers"])).status == 404
        assert (await client.get(f"{GEAR}/{item}/documents/{bad}/download", headers=owner["headers"])).status == 404


async def test_without_a_token_401(client):
    owner = await register(client)
    item = await make_item(client.app, owner)
    document = (await (await upload_document(client, owner, item)).json())["data"]
    doc_path = f"{GEAR}/{item}/documents/{document['id']}"
    for method, path in [
        ("POST", f"{GEAR}/{item}/documents"),
        ("GET", f"{GEAR}/{item}/documents"),
        ("GET", f"{doc_path}/download"),
        ("DELETE", doc_path),
    ]:
        resp = await client.request(method, path)
        assert resp.status == 401, (method, path)
    assert await client.app[DB].fetch_val("SELECT count(*) FROM gear_documents") == 1


@pytest.mark.parametrize("type_", [None, "bogus", "", "INVOICE"])
async def test_a_missing_or_invalid_type_is_422_and_nothing_is_kept(client, type_):
    owner = await register(client)
    item = await make_item(client.app, owner)
    resp = await upload_document(client, owner, item, type_=type_)
    assert resp.status == 422
    assert [detail["field"] for detail in (await resp.json())["details"]] == ["type"]
    assert await client.app[DB].fetch_val("SELECT count(*) FROM gear_documents") == 0
    assert await user_blobs(client.app, owner) == []
    assert await used_bytes(client.app, owner) == 0
    assert await client.app[DB].fetch_val("SELECT count(*) FROM cloud_upload_reservations") == 0


async def test_the_type_given_twice_or_a_missing_file_is_422(client):
    owner = await register(client)
    item = await make_item(client.app, owner)
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("type", "invoice")
    resp = await client.post(f"{GEAR}/{item}/documents", data=form, headers=owner["headers"])
    assert resp.status == 422
    assert (await resp.json())["details"] == [{"field": "file", "message": "Field required"}]
    form = aiohttp.FormData()
    form.add_field("file", b"x", filename="a.pdf")
    form.add_field("type", "invoice")
    form.add_field("type", "manual")
    resp = await client.post(f"{GEAR}/{item}/documents", data=form, headers=owner["headers"])
    assert resp.status == 422
    assert await user_blobs(client.app, owner) == []


@pytest.fixture
def small_limit_app(settings):
    return create_app(settings.model_copy(update={"upload_max_bytes": 1000}))


async def test_too_large_is_413_and_nothing_is_kept(aiohttp_client, small_limit_app):
    client = await aiohttp_client(small_limit_app)
    owner = await register(client)
    item = await make_item(client.app, owner)
    resp = await upload_document(client, owner, item, data=b"x" * 1001)
    assert resp.status == 413
    assert (await resp.json())["code"] == "file_too_large"
    assert await client.app[DB].fetch_val("SELECT count(*) FROM gear_documents") == 0
    assert await user_blobs(client.app, owner) == []
    assert await used_bytes(client.app, owner) == 0
    assert (await upload_document(client, owner, item, data=b"x" * 1000)).status == 201


@pytest.fixture
def small_quota_app(settings):
    return create_app(settings.model_copy(update={"user_quota_bytes": 100}))


async def test_documents_count_against_the_storage_quota(aiohttp_client, small_quota_app):
    client = await aiohttp_client(small_quota_app)
    owner = await register(client)
    item = await make_item(client.app, owner)
    first = await upload_document(client, owner, item, data=b"a" * 60)
    assert first.status == 201
    resp = await upload_document(client, owner, item, data=b"b" * 60)
    assert resp.status == 413
    assert (await resp.json())["code"] == "quota_exceeded"
    assert await used_bytes(client.app, owner) == 60
    usage = (await (await client.get("/api/v1/cloud/usage", headers=owner["headers"])).json())["data"]
    assert usage["used_bytes"] == 60
    document = (await first.json())["data"]
    assert (await client.delete(f"{GEAR}/{item}/documents/{document['id']}", headers=owner["headers"])).status == 200
    assert await used_bytes(client.app, owner) == 0
    assert (await upload_document(client, owner, item, data=b"b" * 60)).status == 201


async def test_a_deleted_item_takes_its_documents(client):
    owner = await register(client)
    item = await make_item(client.app, owner)
    assert (await upload_document(client, owner, item)).status == 201
    await client.app[DB].execute("DELETE FROM gear_items WHERE id = %s", (item,))
    assert await client.app[DB].fetch_val("SELECT count(*) FROM gear_documents") == 0
    assert (await client.get(f"{GEAR}/{item}/documents", headers=owner["headers"])).status == 404


async def test_deleting_an_item_frees_its_documents_quota_and_blobs(client):
    owner = await register(client)
    item, kept = await make_item(client.app, owner), await make_item(client.app, owner)
    assert (await upload_document(client, owner, item, data=b"a" * 10)).status == 201
    assert (await upload_document(client, owner, item, data=b"b" * 20)).status == 201
    keep = (await (await upload_document(client, owner, kept, data=b"c" * 5)).json())["data"]
    app = client.app
    async with transaction(app[DB]) as tx:
        assert await delete_item_documents(app, tx, uuid.UUID(owner["user"]["id"]), uuid.UUID(item)) == 2
        await tx.execute("DELETE FROM gear_items WHERE id = %s", (item,))
    assert await used_bytes(app, owner) == 5
    assert await user_blobs(app, owner) == [f"gear/{owner['user']['id']}/{kept}/{keep['id']}"]
    assert await app[DB].fetch_val("SELECT count(*) FROM gear_documents") == 1
