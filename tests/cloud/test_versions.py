"""Versions: new content, snapshots and restores each add the next version; no history is lost."""

import asyncio
import uuid

import pytest

from tests.cloud.helpers import FILES, fetch, put_content, sha256, stored_keys, table_counts, upload_ok, used_bytes
from tests.factories import register


async def versions_of(client, user, file_id):
    resp = await client.get(f"{FILES}/{file_id}/versions", headers=user["headers"])
    assert resp.status == 200
    return (await resp.json())["data"]["versions"]


async def content(client, user, file_id, version=None):
    query = f"?version={version}" if version else ""
    status, _, body = await fetch(client, f"{FILES}/{file_id}/download{query}", headers=user["headers"])
    assert status == 200
    return body


async def test_new_content_becomes_the_next_version(any_client):
    client = any_client
    user = await register(client)
    file = await upload_ok(client, user, b"first take", filename="take.wav", tags="demo")
    resp = await put_content(client, user, file["id"], b"second take, longer", content_type="audio/x-wav")
    assert resp.status == 200
    updated = (await resp.json())["data"]
    assert updated["current_version"] == 2
    assert updated["size_bytes"] == len(b"second take, longer")
    assert updated["sha256"] == sha256(b"second take, longer")
    assert updated["content_type"] == "audio/x-wav"
    assert (updated["name"], updated["tags"]) == ("take.wav", ["demo"])  # new content keeps the name
    versions = await versions_of(client, user, file["id"])
    assert [v["version"] for v in versions] == [2, 1]
    assert set(versions[0]) == {
        "id",
        "file_id",
        "version",
        "storage_key",
        "size_bytes",
        "sha256",
        "content_type",
        "created_at",
    }
    assert versions[1]["size_bytes"] == len(b"first take")
    assert versions[0]["storage_key"] != versions[1]["storage_key"]
    assert sorted(await stored_keys(client.app)) == sorted(v["storage_key"] for v in versions)
    assert await content(client, user, file["id"]) == b"second take, longer"
    assert await content(client, user, file["id"], 1) == b"first take"
    assert await used_bytes(client.app, user) == len(b"first take") + len(b"second take, longer")


async def test_new_content_takes_only_a_file(client):
    user = await register(client)
    file = await upload_ok(client, user, b"v1")
    resp = await put_content(client, user, file["id"], b"v2", name="renamed.wav")
    assert resp.status == 422
    assert (await resp.json())["details"][0]["field"] == "name"
    assert len(await versions_of(client, user, file["id"])) == 1
    assert len(await stored_keys(client.app)) == 1


async def test_new_content_for_a_missing_file_reads_no_body(client):
    user = await register(client)
    for file_id in [str(uuid.uuid4()), "not-a-uuid"]:
        resp = await put_content(client, user, file_id, b"x" * 100_000)
        assert resp.status == 404
    assert await stored_keys(client.app) == []


async def test_concurrent_new_content_numbers_versions_without_gaps(client):
    user = await register(client)
    file = await upload_ok(client, user, b"v1")
    results = await asyncio.gather(*[put_content(client, user, file["id"], f"v{n}".encode() * 1000) for n in range(8)])
    assert [resp.status for resp in results] == [200] * 8
    versions = await versions_of(client, user, file["id"])
    assert sorted(v["version"] for v in versions) == list(range(1, 10))
    current = (await (await client.get(f"{FILES}/{file['id']}", headers=user["headers"])).json())["data"]
    assert current["current_version"] == 9
    assert current["sha256"] == versions[0]["sha256"]
    assert len(await stored_keys(client.app)) == 9


async def test_snapshot_adds_a_version_sharing_the_blob(any_client):
    client = any_client
    user = await register(client)
    file = await upload_ok(client, user, b"the mix")
    resp = await client.post(f"{FILES}/{file['id']}/versions", headers=user["headers"])
    assert resp.status == 201
    snap = (await resp.json())["data"]
    versions = await versions_of(client, user, file["id"])
    assert snap == versions[0]
    assert snap["version"] == 2
    assert (snap["storage_key"], snap["sha256"], snap["size_bytes"]) == (
        versions[1]["storage_key"],
        versions[1]["sha256"],
        versions[1]["size_bytes"],
    )
    current = (await (await client.get(f"{FILES}/{file['id']}", headers=user["headers"])).json())["data"]
    assert current["current_version"] == 2
    assert len(await stored_keys(client.app)) == 1
    assert await used_bytes(client.app, user) == len(b"the mix")  # a shared blob counts once
    assert await content(client, user, file["id"], 2) == b"the mix"


async def test_restore_makes_old_content_current_as_a_new_version(any_client):
    client = any_client
    user = await register(client)
    file = await upload_ok(client, user, b"A" * 10, content_type="audio/wav")
    await put_content(client, user, file["id"], b"B" * 20, content_type="audio/flac")
    resp = await client.post(f"{FILES}/{file['id']}/restore/1", headers=user["headers"])
    assert resp.status == 200
    restored = (await resp.json())["data"]
    assert restored["current_version"] == 3
    assert (restored["size_bytes"], restored["content_type"], restored["sha256"]) == (
        10,
        "audio/wav",
        sha256(b"A" * 10),
    )
    versions = await versions_of(client, user, file["id"])
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert versions[0]["storage_key"] == versions[2]["storage_key"]
    assert await content(client, user, file["id"]) == b"A" * 10
    assert await content(client, user, file["id"], 2) == b"B" * 20  # nothing lost
    # Restoring the restored-over version brings it back, again as a new version.
    resp = await client.post(f"{FILES}/{file['id']}/restore/2", headers=user["headers"])
    assert (await resp.json())["data"]["current_version"] == 4
    assert await content(client, user, file["id"]) == b"B" * 20
    assert len(await stored_keys(client.app)) == 2
    assert await used_bytes(client.app, user) == 30


@pytest.mark.parametrize("version", ["3", "0", "-1", "abc", "1.0", "99999999999", "\u0661"])
async def test_restoring_a_missing_version_is_404_and_changes_nothing(client, version):
    user = await register(client)
    file = await upload_ok(client, user, b"A")
    await put_content(client, user, file["id"], b"B")
    resp = await client.post(f"{FILES}/{file['id']}/restore/{version}", headers=user["headers"])
    assert resp.status == 404, version
    assert [v["version"] for v in await versions_of(client, user, file["id"])] == [2, 1]
    assert await content(client, user, file["id"]) == b"B"


async def test_versions_of_another_users_file_are_404(client):
    owner, other = await register(client), await register(client)
    file = await upload_ok(client, owner, b"A")
    for method, suffix in [("GET", "/versions"), ("POST", "/versions"), ("POST", "/restore/1")]:
        resp = await client.request(method, f"{FILES}/{file['id']}{suffix}", headers=other["headers"])
        assert resp.status == 404
    resp = await client.get(f"{FILES}/{file['id']}/download?version=1", headers=other["headers"])
    assert resp.status == 404
    assert (await table_counts(client.app))["cloud_file_versions"] == 1
    for bad in ["not-a-uuid", str(uuid.uuid4())]:
        assert (await client.get(f"{FILES}/{bad}/versions", headers=owner["headers"])).status == 404
        assert (await client.post(f"{FILES}/{bad}/versions", headers=owner["headers"])).status == 404
        assert (await client.post(f"{FILES}/{bad}/restore/1", headers=owner["headers"])).status == 404


async def test_concurrent_snapshots_and_restores_number_without_gaps(client):
    user = await register(client)
    file = await upload_ok(client, user, b"A")
    path = f"{FILES}/{file['id']}"
    calls = [client.post(f"{path}/versions", headers=user["headers"]) for _ in range(5)]
    calls += [client.post(f"{path}/restore/1", headers=user["headers"]) for _ in range(5)]
    calls += [put_content(client, user, file["id"], b"B") for _ in range(3)]
    results = await asyncio.gather(*calls)
    assert sorted(resp.status for resp in results) == [200] * 8 + [201] * 5
    assert sorted(v["version"] for v in await versions_of(client, user, file["id"])) == list(range(1, 15))
