"""Uploads: limits, quota, malformed forms, client names; a failed upload leaves nothing behind."""

import asyncio
import hashlib
import tracemalloc

import aiohttp
import pytest

from tests.cloud.conftest import cloud_settings, s3_changes
from tests.cloud.helpers import (
    FILES,
    fetch,
    file_part,
    form,
    put_content,
    raw_multipart,
    stored_keys,
    table_counts,
    upload,
    upload_ok,
    used_bytes,
)
from tests.factories import register
from tests.outage import wait_until
from veza.app import create_app
from veza.cloud import queries, quota, uploads
from veza.keys import DB, SETTINGS

KiB = 1024
MiB = 1024 * KiB
NOTHING = {"cloud_files": 0, "cloud_file_versions": 0, "cloud_shares": 0, "cloud_upload_reservations": 0}


async def generated(total: int, chunk: int = 64 * KiB, *, fail_after: int | None = None, gate=None):
    """`total` bytes of a repeating pattern; raises past `fail_after`; waits on `gate` after the first chunk."""
    block = hashlib.sha256(b"veza").digest() * (chunk // 32 + 1)
    sent = 0
    while sent < total:
        if fail_after is not None and sent >= fail_after:
            raise RuntimeError("the client went away")
        size = min(chunk, total - sent)
        yield block[:size]
        sent += size
        if gate is not None and sent == size:
            await gate.wait()


def expected(total: int, chunk: int = 64 * KiB) -> bytes:
    block = hashlib.sha256(b"veza").digest() * (chunk // 32 + 1)
    return b"".join(block[: min(chunk, total - sent)] for sent in range(0, total, chunk))


async def assert_nothing_left(client, user=None) -> None:
    """No row, no blob (no pending S3 upload), no reservation, no quota used."""
    for _ in range(100):  # the server finishes its cleanup after the client has its answer
        if await stored_keys(client.app) == [] and await table_counts(client.app) == NOTHING:
            break
        await asyncio.sleep(0.05)
    assert await stored_keys(client.app) == []
    assert await table_counts(client.app) == NOTHING
    if user is not None:
        assert await used_bytes(client.app, user) == 0


@pytest.fixture
def limited(aiohttp_client, settings, tmp_path):
    """A client factory for an app with a small upload limit and quota."""

    async def make(**changes):
        return await aiohttp_client(create_app(cloud_settings(settings, tmp_path, **changes)))

    return make


# Refused before or while streaming.


async def test_no_token_reads_nothing_and_stores_nothing(client):
    resp = await client.post(FILES, data=form(b"x" * 1000))
    assert resp.status == 401
    await assert_nothing_left(client)


async def test_only_multipart_is_accepted(client):
    user = await register(client)
    resp = await client.post(FILES, json={"file": "x"}, headers=user["headers"])
    assert resp.status == 415
    assert (await resp.json())["code"] == "unsupported_media_type"
    resp = await client.post(
        FILES, data=b"x", headers={**user["headers"], "Content-Type": "multipart/mixed; boundary=b"}
    )
    assert resp.status == 415
    await assert_nothing_left(client, user)


@pytest.mark.parametrize(
    "body",
    [
        b"no boundary anywhere",
        b'--wrong-boundary\r\nContent-Disposition: form-data; name="file"\r\n\r\nx\r\n--wrong-boundary--\r\n',
        b"",
    ],
)
async def test_malformed_multipart_is_400(client, body):
    user = await register(client)
    headers = {**user["headers"], "Content-Type": "multipart/form-data; boundary=veza-test-boundary-7d1f"}
    resp = await client.post(FILES, data=body, headers=headers)
    assert resp.status == 400
    assert (await resp.json())["code"] == "malformed_multipart"
    resp = await client.post(FILES, data=b"x", headers={**user["headers"], "Content-Type": "multipart/form-data"})
    assert resp.status == 400
    await assert_nothing_left(client, user)


async def test_a_body_cut_inside_the_file_is_400_and_leaves_nothing(any_client):
    client = any_client
    user = await register(client)
    body, headers = raw_multipart(file_part("a.wav", b"x" * 200_000))
    truncated = body[: body.index(b"x" * 1000) + 100_000]  # no closing boundary: the body ends mid-file
    resp = await client.post(FILES, data=truncated, headers={**user["headers"], **headers})
    assert resp.status == 400
    await assert_nothing_left(client, user)


@pytest.mark.parametrize(
    ("parts", "field"),
    [
        ([('Content-Disposition: form-data; name="name"', b"x.wav")], "file"),
        ([file_part("a", b"1"), file_part("b", b"2")], "file"),
        ([file_part("a", b"1"), ('Content-Disposition: form-data; name="owner"', b"me")], "owner"),
        ([('Content-Disposition: form-data; name="owner"', b"me"), file_part("a", b"1")], "owner"),
        ([file_part("a", b"1"), ('Content-Disposition: form-data; name="name"', b"x" * 5000)], "name"),
        # the document's maxLength: 1025 characters are refused even when they fit in 4 KiB
        ([file_part("a", b"1"), ('Content-Disposition: form-data; name="name"', b"x" * 1025)], "name"),
        ([file_part("a", b"1"), ('Content-Disposition: form-data; name="tags"', b"a," * 513)], "tags"),
        ([file_part("a", b"1"), ('Content-Disposition: form-data; name="name"', b"\xff\xfe")], "name"),
        ([file_part("a", b"1")] + [('Content-Disposition: form-data; name="name"', b"n")] * 2, "name"),
        ([file_part("a", b"1"), ('Content-Disposition: form-data; name="tags"', b"[1, 2]")], "tags"),
        ([file_part("a", b"1"), ('Content-Disposition: form-data; name="tags"', b'["a"')], "tags"),
        ([file_part("a", b"1"), ('Content-Disposition: form-data; name="tags"', b",".join([b"t"] * 21))], "tags"),
        ([file_part("a", b"1"), ('Content-Disposition: form-data; name="tags"', b"x" * 51)], "tags.0"),
        ([file_part("a", b"1")] + [('Content-Disposition: form-data; name="tags"', b"t")] * 16, "body"),
    ],
)
async def test_invalid_forms_are_422_and_leave_nothing(any_client, parts, field):
    client = any_client
    user = await register(client)
    body, headers = raw_multipart(*parts)
    resp = await client.post(FILES, data=body, headers={**user["headers"], **headers})
    assert resp.status == 422, await resp.text()
    error = await resp.json()
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == field
    await assert_nothing_left(client, user)


@pytest.mark.parametrize("header", ["Content-Transfer-Encoding: base64", "Content-Encoding: gzip"])
async def test_encoded_parts_are_415(client, header):
    user = await register(client)
    headers_, content = file_part("a.wav", b"eA==")
    body, headers = raw_multipart((f"{headers_}\r\n{header}", content))
    resp = await client.post(FILES, data=body, headers={**user["headers"], **headers})
    assert resp.status == 415
    await assert_nothing_left(client, user)


async def test_the_upload_limit_holds_with_or_without_content_length(limited):
    client = await limited(upload_max_bytes=256 * KiB)
    user = await register(client)
    assert (await upload(client, user, b"x" * 256 * KiB)).status == 201  # exactly the limit
    await client.delete(
        f"{FILES}/{(await (await client.get(FILES, headers=user['headers'])).json())['data']['files'][0]['id']}",
        headers=user["headers"],
    )

    # Declared too large: refused before the body is read.
    resp = await upload(client, user, b"x" * (256 * KiB + 70 * KiB))
    assert resp.status == 413
    error = await resp.json()
    assert error["code"] == "file_too_large"
    assert "256.0 KiB" in error["error"]
    # Declared within the slack for the form's own bytes, but the file is one byte too many.
    resp = await upload(client, user, b"x" * (256 * KiB + 1))
    assert (resp.status, (await resp.json())["code"]) == (413, "file_too_large")
    # No Content-Length (chunked): refused as the bytes pass the limit.
    resp = await upload(client, user, generated(1 * MiB))
    assert (resp.status, (await resp.json())["code"]) == (413, "file_too_large")
    await assert_nothing_left(client, user)


async def test_the_quota_holds_and_is_freed_by_deletion(limited):
    client = await limited(user_quota_bytes=100 * KiB)
    user, other = await register(client), await register(client)
    first = await upload_ok(client, user, b"a" * 60 * KiB)
    resp = await upload(client, user, b"b" * 60 * KiB)
    assert resp.status == 413
    error = await resp.json()
    assert error["code"] == "quota_exceeded"
    assert "100.0 KiB" in error["error"]
    resp = await upload(client, user, generated(60 * KiB))  # chunked: found out while streaming
    assert (resp.status, (await resp.json())["code"]) == (413, "quota_exceeded")
    resp = await put_content(client, user, first["id"], b"c" * 60 * KiB)  # versions count too
    assert (resp.status, (await resp.json())["code"]) == (413, "quota_exceeded")
    assert await used_bytes(client.app, user) == 60 * KiB
    assert len(await stored_keys(client.app)) == 1
    assert (await table_counts(client.app))["cloud_upload_reservations"] == 0
    await upload_ok(client, other, b"o" * 60 * KiB)  # the quota is per user

    assert (await client.delete(f"{FILES}/{first['id']}", headers=user["headers"])).status == 200
    assert await used_bytes(client.app, user) == 0
    await upload_ok(client, user, b"b" * 60 * KiB)
    await upload_ok(client, user, b"")  # zero bytes always fit


async def test_concurrent_uploads_cannot_pass_the_quota_together(limited):
    client = await limited(user_quota_bytes=100 * KiB)
    user = await register(client)
    results = await asyncio.gather(*[upload(client, user, bytes([n]) * 60 * KiB) for n in range(4)])
    assert sorted(resp.status for resp in results) == [201, 413, 413, 413]
    assert await used_bytes(client.app, user) == 60 * KiB

    # Chunked uploads that are all mid-stream at once.
    await client.delete(
        f"{FILES}/{(await results[[r.status for r in results].index(201)].json())['data']['id']}",
        headers=user["headers"],
    )
    gates = [asyncio.Event() for _ in range(3)]
    tasks = [asyncio.create_task(upload(client, user, generated(60 * KiB, 8 * KiB, gate=gate))) for gate in gates]

    async def all_three_hold_quota():
        return (await table_counts(client.app))["cloud_upload_reservations"] == 3

    await wait_until(all_three_hold_quota)
    # Each goes on in turn while the others still hold their share: released at once, a refused upload's share
    # can still count against the others when they need more, and all three may be refused.
    statuses = []
    for gate, task in zip(gates, tasks, strict=True):
        gate.set()
        statuses.append((await task).status)
    assert sorted(statuses) == [201, 413, 413]
    assert await used_bytes(client.app, user) == 60 * KiB
    assert len(await stored_keys(client.app)) == 1
    assert (await table_counts(client.app))["cloud_upload_reservations"] == 0


async def test_an_expired_reservation_is_not_counted(client):
    user = await register(client)
    await client.app[DB].execute(
        "INSERT INTO cloud_upload_reservations (id, user_id, bytes, expires_at) "
        "VALUES (gen_random_uuid(), %s, %s, now() - interval '1 second')",
        (user["user"]["id"], client.app[SETTINGS].user_quota_bytes),
    )
    await upload_ok(client, user, b"fits")
    assert (await table_counts(client.app))["cloud_upload_reservations"] == 0


# Failures midway leave nothing behind.


@pytest.mark.slow
async def test_a_client_that_goes_away_leaves_nothing(any_client):
    client = any_client
    user = await register(client)
    total = 20 * MiB  # more than one S3 part, so a multipart upload is under way when the client leaves
    with pytest.raises((aiohttp.ClientError, RuntimeError, ConnectionError)):
        await upload(client, user, generated(total, 256 * KiB, fail_after=12 * MiB))
    await assert_nothing_left(client, user)


@pytest.mark.parametrize("backend", ["local", "s3"])
async def test_an_upload_that_stops_arriving_is_408_and_leaves_nothing(limited, request, backend):
    changes = s3_changes(request.getfixturevalue("moto_endpoint")) if backend == "s3" else {}
    client = await limited(body_idle_timeout=0.5, **changes)
    user = await register(client)
    never = asyncio.Event()  # the client sends its first 6 MiB (an S3 part is under way), then nothing
    resp = await upload(client, user, generated(12 * MiB, 6 * MiB, gate=never))
    assert resp.status == 408
    assert (await resp.json())["code"] == "request_timeout"
    await assert_nothing_left(client, user)


async def test_a_database_failure_after_the_blob_removes_it(any_client, monkeypatch):
    client = any_client
    user = await register(client)

    async def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(queries, "insert_version", broken)
    resp = await upload(client, user, b"x" * 100_000)
    assert resp.status == 500
    await assert_nothing_left(client, user)


async def test_a_file_deleted_during_new_content_takes_no_version(client, monkeypatch):
    user = await register(client)
    file = await upload_ok(client, user, b"v1")
    real_receive = uploads.store

    async def receive_then_delete(*args, **kwargs):
        received = await real_receive(*args, **kwargs)
        assert (await client.delete(f"{FILES}/{file['id']}", headers=user["headers"])).status == 200
        return received

    monkeypatch.setattr(uploads, "store", receive_then_delete)
    resp = await put_content(client, user, file["id"], b"v2")
    assert resp.status == 404
    await assert_nothing_left(client, user)


async def test_quota_step_reservations_track_a_large_chunked_upload(limited, monkeypatch):
    monkeypatch.setattr(quota, "RESERVE_STEP", 64 * KiB)
    client = await limited(user_quota_bytes=10 * MiB)
    user = await register(client)
    file = await upload_ok(client, user, generated(3 * MiB, 100 * KiB))
    assert file["size_bytes"] == 3 * MiB
    assert await used_bytes(client.app, user) == 3 * MiB
    assert (await fetch(client, f"{FILES}/{file['id']}/download", headers=user["headers"]))[2] == expected(
        3 * MiB, 100 * KiB
    )


# Names from clients are kept safe.


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("..", "untitled"),
        ("a/b/c.wav", "c.wav"),
        ("C:\\\\Users\\\\me\\\\take 1.wav", "take 1.wav"),
        ("x" * 300 + ".wav", "x" * 251 + ".wav"),
        ("y" * 300, "y" * 255),
        ("  spaced   out  .wav ", "spaced out .wav"),
        ("r\u00e9sum\u00e9 \u2013 \u65e5\u672c.flac", "r\u00e9sum\u00e9 \u2013 \u65e5\u672c.flac"),
        ("evil\u202egnp.exe", "evilgnp.exe"),
        ("%22quoted%22.wav", '"quoted".wav'),
    ],
)
async def test_client_filenames_are_shown_sanitised(client, filename, shown):
    user = await register(client)
    body, headers = raw_multipart(file_part(filename, b"data"))
    resp = await client.post(FILES, data=body, headers={**user["headers"], **headers})
    assert resp.status == 201, await resp.text()
    file = (await resp.json())["data"]
    assert file["name"] == shown
    keys = await stored_keys(client.app)
    assert len(keys) == 1
    assert keys[0].startswith(f"cloud/{user['user']['id']}/{file['id']}/")
    assert ".." not in keys[0]


async def test_a_field_of_1024_characters_of_4_bytes_is_taken(client):
    user = await register(client)
    file = await upload_ok(client, user, b"x", name="\U0001f3b5" * 1020 + ".wav")
    assert file["name"].endswith(".wav")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("na\x02me\x01.wav", "name.wav"),  # NUL is refused, like any text that cannot be stored
        ("line\r\nbreak.wav", "line break.wav"),
        ("\x01\x1f\x7f", "untitled"),
        ("/", "untitled"),
        ("", "track.wav"),  # a blank name field: the file's own name
        ("  ", "track.wav"),
    ],
)
async def test_name_fields_are_sanitised(client, name, shown):
    user = await register(client)
    file = await upload_ok(client, user, b"x", name=name)
    assert file["name"] == shown


async def test_control_characters_in_a_part_header_are_refused_or_dropped(client):
    user = await register(client)
    body, headers = raw_multipart(file_part("bad\x00name\x07.wav", b"x"))
    resp = await client.post(FILES, data=body, headers={**user["headers"], **headers})
    assert resp.status in (201, 400)
    if resp.status == 201:
        assert (await resp.json())["data"]["name"] == "badname.wav"
    else:
        await assert_nothing_left(client, user)


# Memory does not grow with the file.


@pytest.mark.slow
async def test_upload_memory_does_not_grow_with_the_size(client):
    user = await register(client)
    total = 48 * MiB
    tracemalloc.start()
    try:
        file = await upload_ok(client, user, generated(total, 256 * KiB))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert file["size_bytes"] == total
    assert peak < 12 * MiB, f"peak {peak / MiB:.1f} MiB"
