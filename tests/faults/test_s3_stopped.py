"""The S3 endpoint stopped in the middle of an upload.

A moto server of the test's own sits behind a TCP proxy (tests/outage.py); a hook in front of moto holds
the upload's request for one part (or its only PUT) until the test has killed the proxy: the endpoint is
gone, every connection cut, mid-upload. The client gets the 503 envelope; no quota is counted, no row
names the blob. What reached S3 regardless (an object, or parts of an unfinished multipart upload) is
collected by the storage sweep once it is old enough.
"""

from __future__ import annotations

import asyncio
import io
import threading
from datetime import UTC, datetime, timedelta

import aiohttp
import boto3
import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from tests.cloud.conftest import cloud_settings, s3_changes
from tests.factories import make_user
from tests.outage import TcpProxy
from veza.app import create_app
from veza.keys import DB, SETTINGS, STORAGE
from veza.storage.reconcile import reconcile
from veza.storage.s3 import PART_SIZE

pytestmark = pytest.mark.slow

TIMEOUTS = {"s3_connect_timeout": 0.5, "s3_read_timeout": 2.0, "s3_max_attempts": 1}


class HeldRequest:
    """WSGI middleware before moto: the first request that `matches` waits until `release()`."""

    def __init__(self, app, matches) -> None:
        self.app = app
        self.matches = matches
        self.arrived = threading.Event()
        self.finished = threading.Event()  # moto has handled the held request (its client long gone)
        self._released = threading.Event()

    def __call__(self, environ, start_response):
        if self.arrived.is_set() or not self.matches(environ):
            return self.app(environ, start_response)
        self.arrived.set()
        self._released.wait(30)
        try:
            return self.app(environ, start_response)
        finally:
            self.finished.set()

    def release(self) -> None:
        self._released.set()


def put_of_part(number: int):
    return lambda environ: environ["REQUEST_METHOD"] == "PUT" and f"partNumber={number}" in environ["QUERY_STRING"]


def single_put(environ) -> bool:
    return environ["REQUEST_METHOD"] == "PUT" and "/cloud/" in environ["PATH_INFO"] and not environ["QUERY_STRING"]


@pytest.fixture
def moto():
    """A moto S3 server of the test's own; `moto.hold(matches)` sets the hook before the upload."""
    dispatcher = DomainDispatcherApplication(create_backend_app)
    holder: dict[str, HeldRequest] = {}

    def app(environ, start_response):
        hook = holder.get("hook")
        return (hook or dispatcher)(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def hold(matches) -> HeldRequest:
        holder["hook"] = HeldRequest(dispatcher, matches)
        return holder["hook"]

    server.hold = hold
    yield server
    if "hook" in holder:
        holder["hook"].release()
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
async def proxy(moto):
    proxy = TcpProxy("127.0.0.1", moto.server_address[1])
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.fixture
async def client(aiohttp_client, settings, tmp_path, proxy):
    changes = s3_changes(f"http://127.0.0.1:{proxy.port}")
    return await aiohttp_client(create_app(cloud_settings(settings, tmp_path, **changes, **TIMEOUTS)))


def bucket_state(moto, bucket: str) -> tuple[list[str], int]:
    """Straight from moto (not through the proxy): the keys stored, and the multipart uploads unfinished."""
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{moto.server_address[1]}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    uploads = len(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))
    return keys, uploads


async def usage(client, user) -> dict:
    resp = await client.get("/api/v1/cloud/usage", headers=user["headers"])
    assert resp.status == 200
    return (await resp.json())["data"]


@pytest.mark.parametrize(
    ("size", "held", "leftover"),
    [
        # moto stores the held PUT once released, though its client is gone: an object no row names.
        (64 * 1024, single_put, (1, 0)),
        # Part 1 stored, part 2 cut, the abort impossible: an unfinished multipart upload.
        (2 * PART_SIZE + 1024, put_of_part(2), (0, 1)),
    ],
    ids=["single-put", "multipart"],
)
async def test_s3_stopped_during_an_upload(client, moto, proxy, size, held, leftover, caplog):
    user = await make_user(client)
    before = await usage(client, user)
    hook = moto.hold(held)
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(b"\x01" * size), filename="take.wav", content_type="audio/wav")
    upload = asyncio.create_task(client.post("/api/v1/cloud/files", data=form, headers=user["headers"]))
    assert await asyncio.to_thread(hook.arrived.wait, 30)
    await proxy.kill()  # the endpoint is gone, the held request's connection cut
    hook.release()

    async with asyncio.timeout(10):
        resp = await upload
    body = await resp.json()
    assert (resp.status, body["code"]) == (503, "unavailable"), body
    assert int(resp.headers["Retry-After"]) > 0
    assert await usage(client, user) == before
    db = client.app[DB]
    assert await db.fetch_val("SELECT count(*) FROM cloud_upload_reservations") == 0
    assert await db.fetch_val("SELECT count(*) FROM cloud_files") == 0
    assert await db.fetch_val("SELECT count(*) FROM cloud_file_versions") == 0
    assert not [r for r in caplog.records if r.levelno >= 40 and r.name.startswith("veza")], caplog.text

    assert await asyncio.to_thread(hook.finished.wait, 30)
    await proxy.restart()
    bucket = client.app[SETTINGS].s3_bucket
    keys, unfinished = await asyncio.to_thread(bucket_state, moto, bucket)
    assert (len(keys), unfinished) == leftover
    # The sweep collects what reached S3 regardless, once past its grace period.
    result = await reconcile(client.app, now=datetime.now(UTC) + timedelta(days=2))
    assert (result.skipped, result.orphans_deleted, result.uploads_aborted, result.delete_failures) == (
        False,
        *leftover,
        0,
    ), result
    assert await asyncio.to_thread(bucket_state, moto, bucket) == ([], 0)
    # And S3 works again.
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(b"\x02" * size), filename="again.wav", content_type="audio/wav")
    resp = await client.post("/api/v1/cloud/files", data=form, headers=user["headers"])
    assert resp.status == 201, await resp.text()
    assert (await usage(client, user))["used_bytes"] == before["used_bytes"] + size


async def test_only_unfinished_uploads_begun_before_the_cutoff_are_aborted(client, moto):
    storage = client.app[STORAGE]
    key = "cloud/00000000-0000-0000-0000-000000000001/00000000-0000-0000-0000-000000000002/x"
    created = await storage.client.create_multipart_upload(Bucket=storage.bucket, Key=key)
    initiated = (await storage.client.list_multipart_uploads(Bucket=storage.bucket))["Uploads"][0]["Initiated"]

    assert await storage.abort_stale_uploads("cloud/", initiated) == 0  # begun at the cutoff: may be under way
    assert await storage.abort_stale_uploads("invoices/", initiated + timedelta(seconds=1)) == 0  # another prefix
    assert await storage.abort_stale_uploads("cloud/", initiated + timedelta(seconds=1)) == 1
    uploads = await storage.client.list_multipart_uploads(Bucket=storage.bucket)
    assert created["UploadId"] not in [u["UploadId"] for u in uploads.get("Uploads", [])]
