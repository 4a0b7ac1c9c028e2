"""One contract for every storage backend: LocalStorage on a temporary folder, S3Storage on moto."""

import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiobotocore.session import AioSession
from aiohttp import web
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from yarl import URL

from veza.app import add_routes
from veza.constants import API_PREFIX
from veza.keys import METRICS, SETTINGS, STORAGE
from veza.metrics import Metrics
from veza.storage import (
    InvalidKey,
    LocalStorage,
    ObjectNotFound,
    RangeNotSatisfiable,
    S3Storage,
    StoredObject,
    check_storage,
    storage_ctx,
)
from veza.storage.routes import routes
from veza.storage.s3 import PART_SIZE

MiB = 1024 * 1024
SECRET = "test-signing-secret"
PUBLIC_URL = "http://veza.test"
FILENAME = 'Démo \u2013 𝄞 "final".wav'


SESSION = AioSession()  # shared so that each test's client skips loading the S3 service model


def s3_storage(endpoint: str, bucket: str | None = None) -> S3Storage:
    return S3Storage(
        bucket or f"veza-test-{uuid.uuid4().hex[:12]}",
        region="us-east-1",
        endpoint_url=endpoint,
        access_key_id="testing",
        secret_access_key="testing",
        session=SESSION,
    )


async def empty_bucket(s3: S3Storage) -> None:
    listing = await s3.client.list_objects_v2(Bucket=s3.bucket)
    for item in listing.get("Contents", []):
        await s3.client.delete_object(Bucket=s3.bucket, Key=item["Key"])
    await s3.client.delete_bucket(Bucket=s3.bucket)


@pytest.fixture(params=["local", "s3"])
async def storage(request, tmp_path):
    if request.param == "local":
        yield LocalStorage(tmp_path / "storage", SECRET, PUBLIC_URL)
        return
    async with s3_storage(request.getfixturevalue("moto_endpoint")) as s3:
        await s3.ensure_bucket()
        yield s3
        await empty_bucket(s3)


@pytest.fixture
def local(tmp_path):
    return LocalStorage(tmp_path / "storage", SECRET, PUBLIC_URL)


async def stream(*chunks: bytes):
    for chunk in chunks:
        yield chunk


def pattern(index: int, size: int) -> bytes:
    seed = hashlib.sha256(index.to_bytes(8, "big")).digest()
    return (seed * (size // len(seed) + 1))[:size]


async def generated(total: int, chunk_size: int = MiB, fail_after: int | None = None):
    sent = 0
    index = 0
    while sent < total:
        if fail_after is not None and sent >= fail_after:
            raise RuntimeError("the client went away")
        chunk = pattern(index, min(chunk_size, total - sent))
        sent += len(chunk)
        index += 1
        yield chunk


async def read(storage, key: str, start=None, end=None) -> bytes:
    async with storage.open(key, start, end) as blob:
        data = b"".join([chunk async for chunk in blob])
        assert len(data) == blob.length
        return data


def storage_app(settings, storage) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[STORAGE] = storage
    add_routes(app, routes, API_PREFIX)
    return app


@pytest.fixture
async def local_client(aiohttp_client, settings, local):
    return await aiohttp_client(storage_app(settings, local))


def path_of(url: str) -> URL:
    return URL(URL(url, encoded=True).raw_path_qs, encoded=True)


async def fetch(storage, url: str, aiohttp_client, settings, headers=None) -> tuple[int, dict, bytes]:
    """GET a presigned URL as a browser would: for local storage, through the app's route."""
    if isinstance(storage, LocalStorage):
        client = await aiohttp_client(storage_app(settings, storage))
        resp = await client.get(path_of(url), headers=headers)
        return resp.status, dict(resp.headers), await resp.read()
    async with aiohttp.ClientSession() as session, session.get(URL(url, encoded=True), headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.read()


# The contract, on every backend.


@pytest.mark.parametrize("data", [b"", b"x", b"hello storage", pattern(0, 3 * MiB + 17)])
async def test_put_then_open_round_trips(storage, data):
    size = await storage.put("cloud/u1/f1/1", stream(*[data[i : i + 65536] for i in range(0, len(data), 65536)]))
    assert size == len(data)
    assert await storage.exists("cloud/u1/f1/1")
    assert await storage.size("cloud/u1/f1/1") == len(data)
    async with storage.open("cloud/u1/f1/1") as blob:
        assert (blob.size, blob.start, blob.end, blob.length) == (len(data), 0, len(data) - 1, len(data))
        assert b"".join([chunk async for chunk in blob]) == data


async def test_multipart_sized_object_round_trips(storage):
    total = 2 * PART_SIZE + 4 * MiB + 123  # chunks that do not line up with parts
    expected = hashlib.sha256()
    async for chunk in generated(total, chunk_size=700 * 1024):
        expected.update(chunk)
    assert await storage.put("big/object", generated(total, chunk_size=700 * 1024)) == total
    digest = hashlib.sha256()
    async with storage.open("big/object") as blob:
        assert blob.size == total
        async for chunk in blob:
            assert len(chunk) <= MiB
            digest.update(chunk)
    assert digest.hexdigest() == expected.hexdigest()
    assert (
        await read(storage, "big/object", PART_SIZE - 5, PART_SIZE + 4)
        == b"".join([c async for c in generated(total, chunk_size=700 * 1024)])[PART_SIZE - 5 : PART_SIZE + 5]
    )


@pytest.mark.parametrize(
    ("start", "end", "expected", "first", "last"),
    [
        (2, 5, b"2345", 2, 5),
        (0, 0, b"0", 0, 0),
        (7, None, b"789", 7, 9),
        (5, 1000, b"56789", 5, 9),
        (None, 3, b"789", 7, 9),
        (None, 100, b"0123456789", 0, 9),
        (9, 9, b"9", 9, 9),
    ],
)
async def test_byte_ranges(storage, start, end, expected, first, last):
    await storage.put("ranges", stream(b"01234", b"56789"))
    async with storage.open("ranges", start, end) as blob:
        assert (blob.size, blob.start, blob.end) == (10, first, last)
        assert blob.content_range == f"bytes {first}-{last}/10"
        assert b"".join([chunk async for chunk in blob]) == expected


@pytest.mark.parametrize(("data", "start", "end"), [(b"0123456789", 10, None), (b"0123456789", 50, 60), (b"", 0, None)])
async def test_unsatisfiable_ranges(storage, data, start, end):
    await storage.put("ranges", stream(data))
    with pytest.raises(RangeNotSatisfiable) as raised:
        async with storage.open("ranges", start, end):
            pass
    assert raised.value.size == len(data)
    assert raised.value.headers == {"Content-Range": f"bytes */{len(data)}"}


async def test_a_range_cannot_be_backwards_or_negative(storage):
    await storage.put("ranges", stream(b"0123456789"))
    for start, end in [(5, 2), (-1, None), (None, -3)]:
        with pytest.raises(ValueError):
            async with storage.open("ranges", start, end):
                pass


async def test_put_overwrites(storage):
    await storage.put("cloud/u/f/1", stream(b"first version, longer"))
    assert await storage.put("cloud/u/f/1", stream(b"second")) == 6
    assert await read(storage, "cloud/u/f/1") == b"second"


async def test_missing_objects(storage):
    assert not await storage.exists("nope/missing")
    with pytest.raises(ObjectNotFound):
        await storage.size("nope/missing")
    with pytest.raises(ObjectNotFound):
        async with storage.open("nope/missing"):
            pass


async def test_delete_is_idempotent(storage):
    await storage.put("cloud/u/f/1", stream(b"data"))
    await storage.delete("cloud/u/f/1")
    assert not await storage.exists("cloud/u/f/1")
    await storage.delete("cloud/u/f/1")
    await storage.delete("never/was/there")


async def pending_uploads(storage) -> int:
    if not isinstance(storage, S3Storage):
        return 0
    uploads = await storage.client.list_multipart_uploads(Bucket=storage.bucket)
    return len(uploads.get("Uploads", []))


async def test_a_failed_put_leaves_no_object(storage):
    async def fails_after_a_part():
        async for chunk in generated(PART_SIZE + 3 * MiB):
            yield chunk
        assert await pending_uploads(storage) == (1 if isinstance(storage, S3Storage) else 0)
        raise RuntimeError("the client went away")

    with pytest.raises(RuntimeError, match="went away"):
        await storage.put("cloud/u/f/1", fails_after_a_part())
    with pytest.raises(RuntimeError):
        await storage.put("cloud/u/f/2", generated(4 * MiB, fail_after=2 * MiB))
    assert not await storage.exists("cloud/u/f/1")
    assert not await storage.exists("cloud/u/f/2")
    await assert_no_leftovers(storage)


async def test_a_cancelled_put_leaves_no_object(storage):
    part_sent = asyncio.Event()

    async def stalls_after_a_part():
        async for chunk in generated(PART_SIZE + MiB):
            yield chunk
        part_sent.set()
        await asyncio.Event().wait()

    upload = asyncio.create_task(storage.put("cloud/u/f/1", stalls_after_a_part()))
    await part_sent.wait()
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload
    assert not await storage.exists("cloud/u/f/1")
    await assert_no_leftovers(storage)


async def test_a_failed_overwrite_keeps_the_previous_object(storage):
    await storage.put("cloud/u/f/1", stream(b"the good version"))
    with pytest.raises(RuntimeError):
        await storage.put("cloud/u/f/1", generated(2 * PART_SIZE, fail_after=PART_SIZE + MiB))
    assert await read(storage, "cloud/u/f/1") == b"the good version"
    await assert_no_leftovers(storage)


async def assert_no_leftovers(storage) -> None:
    if isinstance(storage, S3Storage):
        assert await pending_uploads(storage) == 0
    else:
        partials = [p for p in storage.root.rglob("*") if p.is_file() and p.name.startswith(".")]
        assert partials == []


async def test_presigned_url_downloads_without_auth(storage, aiohttp_client, settings):
    key = "exports/ü ser/data export.zip"
    data = pattern(1, 300_000)
    await storage.put(key, stream(data))
    url = await storage.presign(key, 600)
    status, headers, body = await fetch(storage, url, aiohttp_client, settings)
    assert status == 200
    assert body == data
    assert "attachment" not in headers.get("Content-Disposition", "")


async def test_presigned_url_names_the_download(storage, aiohttp_client, settings):
    await storage.put("cloud/u/f/1", stream(b"RIFF....WAVE"))
    url = await storage.presign("cloud/u/f/1", 600, filename=FILENAME)
    status, headers, body = await fetch(storage, url, aiohttp_client, settings)
    assert (status, body) == (200, b"RIFF....WAVE")
    header = headers["Content-Disposition"]
    assert header.isascii()
    disposition, params = parse_content_disposition(header)
    assert disposition == "attachment"
    assert content_disposition_filename(params, "filename") == FILENAME
    assert params["filename"] == "D_mo _ _ _final_.wav"


async def test_presign_refuses_unreasonable_lifetimes(storage):
    for expires in (0, -5, 8 * 24 * 3600):
        with pytest.raises(ValueError):
            await storage.presign("cloud/u/f/1", expires)


DANGEROUS_KEYS = [
    "",
    "/etc/passwd",
    "../outside",
    "cloud/../../outside",
    "cloud/..",
    "cloud\\..\\outside",
    "cloud/u\x00/f",
    "cloud/u\n/f",
    "cloud//f",
    "cloud/f/",
    ".hidden",
    "cloud/.f.part",
    "é" * 600,
    "bad\udc80surrogate",
]


@pytest.mark.parametrize("key", DANGEROUS_KEYS)
async def test_dangerous_keys_are_refused(storage, key):
    with pytest.raises(InvalidKey):
        await storage.put(key, stream(b"x"))
    with pytest.raises(InvalidKey):
        async with storage.open(key):
            pass
    for call in (storage.delete, storage.exists, storage.size):
        with pytest.raises(InvalidKey):
            await call(key)
    with pytest.raises(InvalidKey):
        await storage.presign(key, 60)


async def test_check_reports_a_usable_storage(storage):
    details = await storage.check()
    assert details["backend"] in ("local", "s3")


async def scanned(storage, prefix: str) -> dict[str, StoredObject]:
    return {item.key: item async for item in storage.scan(prefix)}


async def test_scan_lists_the_objects_under_a_prefix(storage):
    before = datetime.now(UTC) - timedelta(seconds=5)  # file systems and S3 keep coarse times
    sizes = {"cloud/u1/f/1": 3, "cloud/u1/f/2": 0, "cloud/u10/f/1": 5, "cloud/u2/g/1": 1, "exports/u1.zip": 4}
    for key, size in sizes.items():
        await storage.put(key, stream(b"x" * size))
    storage.scan_batch = 2  # several listing requests, or several trips to a thread

    objects = await scanned(storage, "cloud/")
    assert {key: item.size for key, item in objects.items()} == {k: v for k, v in sizes.items() if k[:6] == "cloud/"}
    for item in objects.values():
        assert before <= item.modified <= datetime.now(UTC) + timedelta(seconds=5)
        assert item.modified.utcoffset() == timedelta(0)
    assert set(await scanned(storage, "cloud/u1")) == {"cloud/u1/f/1", "cloud/u1/f/2", "cloud/u10/f/1"}
    assert set(await scanned(storage, "cloud/u1/")) == {"cloud/u1/f/1", "cloud/u1/f/2"}
    assert set(await scanned(storage, "")) == set(sizes)
    assert await scanned(storage, "nothing/here/") == {}


async def test_scan_no_longer_lists_a_deleted_object(storage):
    await storage.put("cloud/u/f/1", stream(b"x"))
    await storage.put("cloud/u/f/2", stream(b"y"))
    await storage.delete("cloud/u/f/1")
    assert set(await scanned(storage, "cloud/")) == {"cloud/u/f/2"}


@pytest.mark.parametrize("prefix", ["/etc", "../", "cloud/../../", "cloud//", ".hidden/", "cloud\\"])
async def test_scan_refuses_a_prefix_no_key_could_have(storage, prefix):
    with pytest.raises(InvalidKey):
        await scanned(storage, prefix)


# LocalStorage alone: the folder, and the route behind its links.


async def test_local_keys_cannot_escape_through_symlinks(local, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    local.root.mkdir(parents=True)
    (local.root / "link").symlink_to(outside)
    with pytest.raises(InvalidKey):
        await local.put("link/file", stream(b"x"))
    assert list(outside.iterdir()) == []


async def test_local_scan_skips_puts_in_progress_and_symlinks(local, tmp_path):
    await local.put("cloud/u/f/1", stream(b"x"))
    (local.root / "cloud/u/f/.2.abcd.part").write_bytes(b"half")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"no")
    (local.root / "cloud/link").symlink_to(outside)
    (local.root / "cloud/u/f/alias").symlink_to(local.root / "cloud/u/f/1")
    assert set(await scanned(local, "")) == {"cloud/u/f/1"}


async def test_local_scan_reports_the_file_time(local):
    await local.put("cloud/u/f/1", stream(b"x"))
    long_ago = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    os.utime(local.root / "cloud/u/f/1", (long_ago.timestamp(), long_ago.timestamp()))
    assert (await scanned(local, "cloud/"))["cloud/u/f/1"].modified == long_ago


@pytest.mark.slow
async def test_local_scan_memory_does_not_grow_with_the_number_of_objects(local):
    for user in range(20):
        folder = local.root / f"cloud/u{user}/f"
        folder.mkdir(parents=True)
        for version in range(300):
            (folder / str(version)).touch()
    local.scan_batch = 100
    tracemalloc.start()
    try:
        count = 0
        async for _ in local.scan("cloud/"):
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 6000
    # 6,000 listed objects held at once would take ~2 MiB; a batch of 100 takes a few KiB.
    assert peak < 512 * 1024, f"peak {peak / 1024:.0f} KiB"


async def test_local_check_fails_when_the_folder_is_unusable(tmp_path):
    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(OSError):
        await LocalStorage(tmp_path / "a-file", SECRET, PUBLIC_URL).check()


async def test_local_link_shape(local):
    url = await local.presign("cloud/u/f/1", 600, filename="mix.wav")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL
    assert parts.path == "/api/v1/storage/local/cloud/u/f/1"
    query = parse_qs(parts.query)
    assert abs(int(query["expires"][0]) - (time.time() + 600)) < 5
    assert query["filename"] == ["mix.wav"]
    assert len(query["signature"][0]) == 64


def signed_path(local: LocalStorage, key: str, expiry: int, **changes: str) -> str:
    query = {"expires": str(expiry), "signature": local.sign(key, str(expiry), "")}
    query.update(changes)
    return str(URL(f"/api/v1/storage/local/{key}").with_query(query))


async def assert_not_found(resp) -> None:
    assert resp.status == 404
    body = await resp.json()
    assert (body["success"], body["code"]) == (False, "not_found")


async def test_local_link_serves_headers_for_a_download(local, local_client):
    await local.put("cloud/u/f/1", stream(b"0123456789"))
    resp = await local_client.get(path_of(await local.presign("cloud/u/f/1", 600, filename="mix.wav")))
    assert resp.status == 200
    assert await resp.read() == b"0123456789"
    assert resp.headers["Content-Length"] == "10"
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Accept-Ranges"] == "bytes"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="mix.wav"')
    cache = resp.headers["Cache-Control"]
    assert cache.startswith("private, max-age=")
    assert 590 <= int(cache.rpartition("=")[2]) <= 600
    # streamed by its handler, and still given the headers every answer carries
    assert resp.headers["X-Request-ID"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_local_link_serves_a_range(local, local_client):
    await local.put("cloud/u/f/1", stream(b"0123456789"))
    url = path_of(await local.presign("cloud/u/f/1", 600))
    resp = await local_client.get(url, headers={"Range": "bytes=2-5"})
    assert resp.status == 206
    assert await resp.read() == b"2345"
    assert resp.headers["Content-Range"] == "bytes 2-5/10"
    assert resp.headers["Content-Length"] == "4"
    resp = await local_client.get(url, headers={"Range": "bytes=-3"})
    assert (resp.status, await resp.read(), resp.headers["Content-Range"]) == (206, b"789", "bytes 7-9/10")


@pytest.mark.parametrize("header", ["bytes=2-1", "bytes=0-1,4-5", "items=0-1", "bytes=x-y", "bytes=-", "bytes=9" * 30])
async def test_local_link_ignores_ranges_it_does_not_serve(local, local_client, header):
    await local.put("cloud/u/f/1", stream(b"0123456789"))
    resp = await local_client.get(path_of(await local.presign("cloud/u/f/1", 600)), headers={"Range": header})
    assert (resp.status, await resp.read()) == (200, b"0123456789")
    assert "Content-Range" not in resp.headers


async def test_local_link_unsatisfiable_range_is_416(local, local_client):
    await local.put("cloud/u/f/1", stream(b"0123456789"))
    resp = await local_client.get(path_of(await local.presign("cloud/u/f/1", 600)), headers={"Range": "bytes=10-"})
    assert resp.status == 416
    assert resp.headers["Content-Range"] == "bytes */10"
    assert (await resp.json())["code"] == "range_not_satisfiable"


async def test_expired_tampered_or_unsigned_links_are_404(local, local_client):
    await local.put("cloud/u/f/1", stream(b"secret"))
    await local.put("cloud/u/f/2", stream(b"other"))
    future = int(time.time()) + 600
    assert (await local_client.get(signed_path(local, "cloud/u/f/1", future))).status == 200
    good = local.sign("cloud/u/f/1", str(future), "")
    for path in [
        signed_path(local, "cloud/u/f/1", int(time.time()) - 1),
        signed_path(local, "cloud/u/f/1", future, signature=good[:-1] + ("0" if good[-1] != "0" else "1")),
        signed_path(local, "cloud/u/f/1", future, signature=good.upper()),
        signed_path(local, "cloud/u/f/1", future, signature="é" * 64),
        signed_path(local, "cloud/u/f/1", future, expires=str(future + 3600)),
        signed_path(local, "cloud/u/f/1", future, expires="9" * 5000),
        signed_path(local, "cloud/u/f/1", future, filename="other.wav"),
        signed_path(local, "cloud/u/f/2", future, signature=good),
        f"/api/v1/storage/local/cloud/u/f/1?expires={future}",
        "/api/v1/storage/local/cloud/u/f/1",
        signed_path(local, "cloud/u/f/9", future),
    ]:
        await assert_not_found(await local_client.get(path))


async def test_a_link_to_a_dangerous_key_is_404(local, local_client, tmp_path):
    (tmp_path / "secret.txt").write_bytes(b"do not serve")
    future = int(time.time()) + 600
    for key in ["../secret.txt", "..%2Fsecret.txt", "%2E%2E/secret.txt"]:
        query = f"expires={future}&signature={local.sign(key, str(future), '')}"
        await assert_not_found(await local_client.get(URL(f"/api/v1/storage/local/{key}?{query}", encoded=True)))


async def test_a_link_is_404_when_storage_is_not_local(aiohttp_client, settings, moto_endpoint, local):
    await local.put("cloud/u/f/1", stream(b"data"))
    url = await local.presign("cloud/u/f/1", 600)
    async with s3_storage(moto_endpoint) as s3:
        client = await aiohttp_client(storage_app(settings, s3))
        await assert_not_found(await client.get(path_of(url)))


# Memory: uploads stream, whatever their size.


@pytest.mark.slow
async def test_local_put_memory_does_not_grow_with_the_size(local):
    chunk = pattern(0, MiB)

    async def source():
        for _ in range(200):
            yield chunk

    tracemalloc.start()
    try:
        size = await local.put("big/200mib", source())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == 200 * MiB
    assert (local.root / "big/200mib").stat().st_size == 200 * MiB
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"
    tracemalloc.start()
    try:
        async with local.open("big/200mib") as blob:
            async for _ in blob:
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"


@pytest.fixture(scope="session")
def moto_process_endpoint():
    """moto in a process of its own, so that tracemalloc measures only the client."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.slow
async def test_s3_put_memory_does_not_grow_with_the_size(moto_process_endpoint):
    chunk = pattern(0, MiB)
    total = 12 * PART_SIZE

    async def source():
        for _ in range(total // MiB):
            yield chunk

    async with s3_storage(moto_process_endpoint) as s3:
        await s3.ensure_bucket()
        tracemalloc.start()
        try:
            size = await s3.put("big/object", source())
            _, put_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            async with s3.open("big/object") as blob:
                read = sum([len(data) async for data in blob])
            _, get_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        await empty_bucket(s3)
    assert size == read == total
    assert put_peak < PART_SIZE + 8 * MiB, f"put peak {put_peak / MiB:.1f} MiB"
    assert get_peak < 8 * MiB, f"get peak {get_peak / MiB:.1f} MiB"


# Wiring: the cleanup context and the deep-health check.


async def run_ctx(settings):
    app = web.Application()
    app[SETTINGS] = settings
    app.cleanup_ctx.append(storage_ctx)
    runner = web.AppRunner(app)
    await runner.setup()
    return app, runner


async def test_storage_ctx_builds_local_storage(settings, tmp_path):
    app, runner = await run_ctx(settings.model_copy(update={"data_dir": tmp_path, "storage_backend": "local"}))
    try:
        storage = app[STORAGE]
        assert isinstance(storage, LocalStorage)
        assert storage.root == (tmp_path / "storage").resolve()
        assert await check_storage(app) == {"status": "ok", "details": {"backend": "local"}}
    finally:
        await runner.cleanup()


async def test_storage_ctx_builds_s3_storage_and_its_bucket(settings, moto_endpoint):
    bucket = f"veza-ctx-{uuid.uuid4().hex[:12]}"
    s3_settings = settings.model_copy(
        update={
            "storage_backend": "s3",
            "s3_bucket": bucket,
            "s3_endpoint_url": moto_endpoint,
            "s3_access_key_id": "testing",
            "s3_secret_access_key": "testing",
        }
    )
    app, runner = await run_ctx(s3_settings)
    try:
        storage = app[STORAGE]
        assert isinstance(storage, S3Storage)
        assert await check_storage(app) == {"status": "ok", "details": {"backend": "s3", "bucket": bucket}}
        await storage.put("k", stream(b"v"))
        assert await read(storage, "k") == b"v"
        await empty_bucket(storage)
    finally:
        await runner.cleanup()
    assert storage.client is None


async def test_s3_check_fails_without_the_bucket(moto_endpoint):
    async with s3_storage(moto_endpoint, bucket="no-such-bucket-here") as s3:
        with pytest.raises(Exception) as raised:
            await s3.check()
    assert "404" in str(raised.value) or "NoSuchBucket" in str(raised.value)
