"""Cloud files: upload, list, get, download, rename and tag, delete."""

import uuid

import pytest
from aiohttp.multipart import content_disposition_filename, parse_content_disposition

from tests.cloud.helpers import (
    API,
    FILES,
    fetch,
    put_content,
    raw_multipart,
    sha256,
    stored_keys,
    table_counts,
    upload,
    upload_ok,
    used_bytes,
)
from tests.factories import register
from veza.keys import DB, SETTINGS


async def test_upload_stores_the_file_under_a_generated_key(any_client):
    client = any_client
    user = await register(client)
    data = b"RIFF" + bytes(range(256)) * 40
    resp = await upload(client, user, data, filename="Beat.wav", content_type="audio/wav", tags='["Hip Hop", "lofi"]')
    assert resp.status == 201
    file = (await resp.json())["data"]
    assert set(file) == {
        "id",
        "user_id",
        "name",
        "tags",
        "current_version",
        "size_bytes",
        "content_type",
        "sha256",
        "created_at",
        "updated_at",
    }
    assert file["name"] == "Beat.wav"
    assert file["user_id"] == user["user"]["id"]
    assert file["tags"] == ["hip-hop", "lofi"]
    assert (file["current_version"], file["size_bytes"]) == (1, len(data))
    assert file["content_type"] == "audio/wav"
    assert file["sha256"] == sha256(data)
    assert file["created_at"].endswith("Z")
    versions = (await (await client.get(f"{FILES}/{file['id']}/versions", headers=user["headers"])).json())["data"]
    key = versions["versions"][0]["storage_key"]
    assert key == f"cloud/{user['user']['id']}/{file['id']}/{versions['versions'][0]['id']}"
    assert await stored_keys(client.app) == [key]
    assert await used_bytes(client.app, user) == len(data)
    status, headers, body = await fetch(client, f"{FILES}/{file['id']}/download", headers=user["headers"])
    assert (status, body) == (200, data)
    assert headers["Content-Disposition"].startswith('attachment; filename="Beat.wav"')


@pytest.mark.parametrize("file_last", [False, True])
async def test_text_fields_may_come_before_or_after_the_file(client, file_last):
    user = await register(client)
    file = await upload_ok(client, user, b"x", name="My mix.wav", tags=["Trap", "trap , drill"], file_last=file_last)
    assert file["name"] == "My mix.wav"
    assert file["tags"] == ["trap", "drill"]


async def test_upload_defaults(client):
    user = await register(client)
    body, headers = raw_multipart(
        ('Content-Disposition: form-data; name="file"\r\nContent-Type: Application/X-Weird; charset=x', b"\x00\x01")
    )
    resp = await client.post(FILES, data=body, headers={**user["headers"], **headers})
    assert resp.status == 201
    file = (await resp.json())["data"]
    assert file["name"] == "untitled"
    assert file["content_type"] == "application/x-weird"
    assert file["tags"] == []
    file = await upload_ok(client, user, b"\x00", content_type="not a type")
    assert file["content_type"] == "application/octet-stream"


async def test_zero_byte_file(any_client):
    client = any_client
    user = await register(client)
    file = await upload_ok(client, user, b"", filename="empty.txt", content_type="text/plain")
    assert (file["size_bytes"], file["sha256"]) == (0, sha256(b""))
    status, _, body = await fetch(client, f"{FILES}/{file['id']}/download", headers=user["headers"])
    assert (status, body) == (200, b"")
    status, _, _ = await fetch(
        client, f"{FILES}/{file['id']}/download", headers={**user["headers"], "Range": "bytes=0-"}
    )
    assert status == 416


async def test_non_ascii_names_round_trip(any_client):
    client = any_client
    user = await register(client)
    name = 'Démo \u2013 𝄞 "final" 日本.wav'
    file = await upload_ok(client, user, b"data", filename=name)
    assert file["name"] == name
    status, headers, body = await fetch(client, f"{FILES}/{file['id']}/download", headers=user["headers"])
    assert (status, body) == (200, b"data")
    header = headers["Content-Disposition"]
    assert header.isascii()
    disposition, params = parse_content_disposition(header)
    assert disposition == "attachment"
    assert content_disposition_filename(params, "filename") == name


async def test_no_token_is_401_everywhere(client):
    owner = await register(client)
    file = await upload_ok(client, owner)
    path = f"{FILES}/{file['id']}"
    for method, url in [
        ("POST", FILES),
        ("GET", FILES),
        ("GET", f"{API}/usage"),
        ("GET", path),
        ("GET", f"{path}/download"),
        ("PUT", f"{path}/content"),
        ("PATCH", path),
        ("DELETE", path),
        ("GET", f"{path}/versions"),
        ("POST", f"{path}/versions"),
        ("POST", f"{path}/restore/1"),
        ("POST", f"{path}/share"),
        ("GET", f"{path}/shares"),
        ("DELETE", f"{API}/shares/{uuid.uuid4()}"),
    ]:
        resp = await client.request(method, url, headers={"Authorization": "Bearer nope"})
        assert resp.status == 401, (method, url)
        assert (await resp.json())["code"] == "unauthorized"
    assert (await client.get(path, headers=owner["headers"])).status == 200


async def test_list_pages_searches_and_filters_by_tag(client):
    user, other = await register(client), await register(client)
    for name, tags in [
        ("Kick 01.wav", "drums"),
        ("kick_02.wav", "drums,808"),
        ("Snare.wav", ""),
        ("100% vocal.wav", ""),
    ]:
        await upload_ok(client, user, b"x", filename=name, tags=tags or None)
    await upload_ok(client, other, b"x", filename="Kick other.wav")

    async def names(query=""):
        resp = await client.get(f"{FILES}{query}", headers=user["headers"])
        assert resp.status == 200
        data = (await resp.json())["data"]
        return [f["name"] for f in data["files"]], data["total"]

    all_names, total = await names()
    assert total == 4
    assert set(all_names) == {"Kick 01.wav", "kick_02.wav", "Snare.wav", "100% vocal.wav"}
    assert all_names[0] == "100% vocal.wav"  # last changed first
    page, total = await names("?limit=2&offset=1")
    assert (page, total) == (all_names[1:3], 4)
    assert sorted((await names("?search=KICK"))[0]) == ["Kick 01.wav", "kick_02.wav"]
    assert (await names("?search=%25"))[0] == ["100% vocal.wav"]  # LIKE wildcards are literal
    assert (await names("?search=_0"))[0] == ["kick_02.wav"]
    assert sorted((await names("?tag=Drums"))[0]) == ["Kick 01.wav", "kick_02.wav"]
    assert (await names("?tag=808&search=kick"))[0] == ["kick_02.wav"]
    assert (await names("?search=nothing"))[0] == []


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=abc", "offset=-1", "offset=99999999999", "search=" + "x" * 201]
)
async def test_list_refuses_bad_paging(client, query):
    user = await register(client)
    resp = await client.get(f"{FILES}?{query}", headers=user["headers"])
    assert resp.status == 422
    assert (await resp.json())["code"] == "validation_error"


async def test_another_users_file_is_404_and_untouched(any_client):
    client = any_client
    owner, other = await register(client), await register(client)
    file = await upload_ok(client, owner, b"mine", name="mine.wav", tags="a")
    path = f"{FILES}/{file['id']}"
    headers = other["headers"]
    keys = await stored_keys(client.app)
    for resp in [
        await client.get(path, headers=headers),
        await client.get(f"{path}/download", headers=headers, allow_redirects=False),
        await client.patch(path, json={"name": "stolen"}, headers=headers),
        await client.delete(path, headers=headers),
        await put_content(client, other, file["id"], b"overwrite"),
        await client.get(f"{path}/versions", headers=headers),
        await client.post(f"{path}/versions", headers=headers),
        await client.post(f"{path}/restore/1", headers=headers),
        await client.post(f"{path}/share", json={}, headers=headers),
        await client.get(f"{path}/shares", headers=headers),
    ]:
        assert resp.status == 404, resp.url
        assert (await resp.json())["code"] == "not_found"
    assert (await (await client.get(FILES, headers=headers)).json())["data"]["total"] == 0
    resp = await client.get(path, headers=owner["headers"])
    assert (await resp.json())["data"] == file
    assert await stored_keys(client.app) == keys
    assert (await table_counts(client.app))["cloud_file_versions"] == 1


@pytest.mark.parametrize("file_id", ["not-a-uuid", "6f1c1e5e-8a2b-4c3d-9e4f-0a1b2c3d4e5f", "1", "%00"])
async def test_bad_or_unknown_ids_are_404(client, file_id):
    user = await register(client)
    for method, suffix in [("GET", ""), ("GET", "/download"), ("DELETE", ""), ("GET", "/versions"), ("PATCH", "")]:
        kwargs = {"json": {"name": "x"}} if method == "PATCH" else {}
        resp = await client.request(method, f"{FILES}/{file_id}{suffix}", headers=user["headers"], **kwargs)
        assert resp.status == 404, (method, suffix)


async def test_download_ranges_and_versions(client):
    user = await register(client)
    file = await upload_ok(client, user, b"0123456789", content_type="text/plain")
    path = f"{FILES}/{file['id']}/download"
    status, headers, body = await fetch(client, path, headers={**user["headers"], "Range": "bytes=2-5"})
    assert (status, body, headers["Content-Range"], headers["Content-Length"]) == (206, b"2345", "bytes 2-5/10", "4")
    assert headers["Content-Type"] == "text/plain"
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Cache-Control"] == "private, no-store"
    status, headers, body = await fetch(client, path, headers={**user["headers"], "Range": "bytes=-3"})
    assert (status, body) == (206, b"789")
    status, headers, body = await fetch(client, path, headers={**user["headers"], "Range": "bytes=10-"})
    assert status == 416
    assert headers["Content-Range"] == "bytes */10"
    status, _, body = await fetch(client, path, headers={**user["headers"], "Range": "bytes=5-2"})  # ignored
    assert (status, body) == (200, b"0123456789")
    assert (await put_content(client, user, file["id"], b"second")).status == 200
    assert (await fetch(client, path, headers=user["headers"]))[2] == b"second"
    assert (await fetch(client, f"{path}?version=1", headers=user["headers"]))[2] == b"0123456789"
    assert (await fetch(client, f"{path}?version=3", headers=user["headers"]))[0] == 404
    for bad in ["abc", "0", "-1", "99999999999"]:
        assert (await fetch(client, f"{path}?version={bad}", headers=user["headers"]))[0] == 422


async def test_rename_and_retag(client):
    user = await register(client)
    file = await upload_ok(client, user, b"x", filename="old.wav", tags="a")
    path = f"{FILES}/{file['id']}"
    resp = await client.patch(path, json={"name": "  New\tname/../x\u202e.wav  "}, headers=user["headers"])
    assert resp.status == 200
    renamed = (await resp.json())["data"]
    assert renamed["name"] == "x.wav"
    assert renamed["tags"] == ["a"]
    assert renamed["updated_at"] > file["updated_at"]
    resp = await client.patch(path, json={"tags": [" Lo Fi ", "lo-fi", "Jazz"]}, headers=user["headers"])
    assert (await resp.json())["data"]["tags"] == ["lo-fi", "jazz"]
    resp = await client.patch(path, json={"tags": []}, headers=user["headers"])
    assert (await resp.json())["data"]["tags"] == []
    resp = await client.patch(path, json={}, headers=user["headers"])
    assert resp.status == 200
    assert (await resp.json())["data"]["name"] == "x.wav"


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x" * 256},
        {"name": 5},
        {"name": None, "tags": "a"},
        {"tags": ["x" * 51]},
        {"tags": ["t"] * 21},
        {"tags": [1, 2]},
        {"owner": "me"},
        {"name": "../"},
        {"name": "\x00\x01"},
        {"name": "..."},
    ],
)
async def test_invalid_updates_are_422_and_change_nothing(client, body):
    user = await register(client)
    file = await upload_ok(client, user, b"x", filename="keep.wav", tags="keep")
    resp = await client.patch(f"{FILES}/{file['id']}", json=body, headers=user["headers"])
    assert resp.status == 422, body
    assert (await resp.json())["code"] == "validation_error"
    assert (await (await client.get(f"{FILES}/{file['id']}", headers=user["headers"])).json())["data"] == file


async def test_update_needs_json(client):
    user = await register(client)
    file = await upload_ok(client, user)
    path = f"{FILES}/{file['id']}"
    resp = await client.patch(path, data="{not json", headers={**user["headers"], "Content-Type": "application/json"})
    assert resp.status == 400
    resp = await client.patch(path, data="name=x", headers={**user["headers"], "Content-Type": "text/plain"})
    assert resp.status == 415


async def test_delete_removes_rows_blobs_and_quota(any_client):
    client = any_client
    user = await register(client)
    keep = await upload_ok(client, user, b"keep me")
    file = await upload_ok(client, user, b"first")
    path = f"{FILES}/{file['id']}"
    assert (await put_content(client, user, file["id"], b"second!")).status == 200
    assert (await client.post(f"{path}/versions", headers=user["headers"])).status == 201
    assert (await client.post(f"{path}/restore/1", headers=user["headers"])).status == 200
    share = (await (await client.post(f"{path}/share", headers=user["headers"])).json())["data"]
    assert len(await stored_keys(client.app)) == 3  # snapshots and restores share blobs
    assert await used_bytes(client.app, user) == len(b"keep me") + len(b"first") + len(b"second!")

    resp = await client.delete(path, headers=user["headers"])
    assert resp.status == 200
    assert (await resp.json())["data"] == {"deleted": True}
    assert (await client.get(path, headers=user["headers"])).status == 404
    assert (await client.delete(path, headers=user["headers"])).status == 404
    assert (await client.get(f"{API}/shared/{share['token']}")).status == 404
    versions = await client.app[DB].fetch_val(
        "SELECT count(*) FROM cloud_file_versions WHERE file_id = %s", (file["id"],)
    )
    assert versions == 0
    assert (await table_counts(client.app))["cloud_shares"] == 0
    keys = await stored_keys(client.app)
    assert len(keys) == 1
    assert keep["id"] in keys[0]
    assert await used_bytes(client.app, user) == len(b"keep me")
    usage = (await (await client.get(f"{API}/usage", headers=user["headers"])).json())["data"]
    assert usage["used_bytes"] == len(b"keep me")
    assert usage["files"] == 1


async def test_usage(client):
    user = await register(client)
    resp = await client.get(f"{API}/usage", headers=user["headers"])
    assert resp.status == 200
    settings = client.app[SETTINGS]
    assert (await resp.json())["data"] == {
        "used_bytes": 0,
        "quota_bytes": settings.user_quota_bytes,
        "upload_max_bytes": settings.upload_max_bytes,
        "files": 0,
    }


async def test_a_file_other_rows_point_at_is_409_and_kept(client):
    """Another domain's foreign key (a product's asset) keeps the file; nothing is half-deleted."""
    db = client.app[DB]
    await db.execute("CREATE TABLE cloud_test_refs (file_id uuid NOT NULL REFERENCES cloud_files (id))")
    try:
        user = await register(client)
        file = await upload_ok(client, user, b"sold")
        await db.execute("INSERT INTO cloud_test_refs VALUES (%s)", (file["id"],))
        resp = await client.delete(f"{FILES}/{file['id']}", headers=user["headers"])
        assert resp.status == 409
        assert (await resp.json())["code"] == "file_in_use"
        assert (await client.get(f"{FILES}/{file['id']}", headers=user["headers"])).status == 200
        assert len(await stored_keys(client.app)) == 1
        assert await used_bytes(client.app, user) == 4
    finally:
        await db.execute("DROP TABLE cloud_test_refs")
