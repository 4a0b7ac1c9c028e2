"""The cloud's services, called as a worker would: `app` and plain values, no request."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest

from tests.cloud.conftest import cloud_settings
from tests.cloud.helpers import FILES, fetch, stored_keys, table_counts, used_bytes
from tests.factories import register
from veza.app import create_app
from veza.auth.tokens import AuthUser
from veza.cloud import service, shares
from veza.cloud.models import ShareIn
from veza.cloud.uploads import ByteSource, FileTooLarge
from veza.errors import Invalid, NotFound, RateLimited
from veza.keys import SETTINGS, STORAGE


def caller(user: dict) -> AuthUser:
    return AuthUser(
        id=uuid.UUID(user["user"]["id"]), role="user", jti="worker", sid=uuid.uuid4(), exp=int(time.time()) + 60
    )


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_a_worker_uploads_new_content_and_reads_it_back(any_client):
    client = any_client
    user = await register(client)
    source = ByteSource(chunks(b"RIFF", b"", b"data"), filename="take.wav", content_type="audio/wav", tags=["Lo Fi"])
    row = await service.upload_file(client.app, caller(user), source)
    assert (row["name"], row["size_bytes"], row["content_type"], row["tags"]) == ("take.wav", 8, "audio/wav", ["lo-fi"])
    row = await service.upload_content(client.app, caller(user), row["id"], ByteSource(chunks(b"second")))
    assert (row["current_version"], row["size_bytes"]) == (2, 6)
    status, _, body = await fetch(client, f"{FILES}/{row['id']}/download", headers=user["headers"])
    assert (status, body) == (200, b"second")
    assert await used_bytes(client.app, user) == 14


async def test_a_worker_upload_over_the_limit_leaves_nothing(aiohttp_client, settings, tmp_path):
    client = await aiohttp_client(create_app(cloud_settings(settings, tmp_path, upload_max_bytes=64 * 1024)))
    user = await register(client)
    limit = client.app[SETTINGS].upload_max_bytes
    with pytest.raises(FileTooLarge):  # a declared size is refused before a byte is read
        await service.upload_file(client.app, caller(user), ByteSource(chunks(b"x"), size=limit + 1))
    with pytest.raises(FileTooLarge):  # an undeclared one while it streams
        await service.upload_file(client.app, caller(user), ByteSource(chunks(b"x" * limit, b"y")))
    with pytest.raises(Invalid):  # fields that do not validate take the stored blob with them
        await service.upload_file(client.app, caller(user), ByteSource(chunks(b"x"), tags=["t"] * 100))
    assert await stored_keys(client.app) == []
    assert (await table_counts(client.app))["cloud_files"] == 0
    assert await used_bytes(client.app, user) == 0


async def test_new_content_for_an_unknown_file_reads_nothing(client):
    user = await register(client)
    read = []

    async def tracked() -> AsyncIterator[bytes]:
        read.append(True)
        yield b"x"

    with pytest.raises(NotFound):
        await service.upload_content(client.app, caller(user), uuid.uuid4(), ByteSource(tracked()))
    assert read == []


async def test_shares_limit_the_address_they_are_given(client):
    user = await register(client)
    row = await service.upload_file(client.app, caller(user), ByteSource(chunks(b"shared")))
    link = await shares.create_share(client.app, caller(user), row["id"], ShareIn())
    for _ in range(shares.SHARED_HITS_PER_MINUTE):
        assert (await shares.open_share(client.app, link["token"], client="192.0.2.1"))["id"] == row["id"]
    with pytest.raises(RateLimited):
        await shares.open_share(client.app, link["token"], client="192.0.2.1")
    shared, version = await shares.shared_version(client.app, link["token"], client="192.0.2.2", count=True)
    assert (shared["id"], version["size_bytes"]) == (row["id"], 6)


async def test_downloads_carry_the_files_content_type_on_every_backend(any_client):
    client = any_client
    user = await register(client)
    row = await service.upload_file(client.app, caller(user), ByteSource(chunks(b"RIFF"), content_type="audio/wav"))
    status, headers, body = await fetch(client, f"{FILES}/{row['id']}/download", headers=user["headers"])
    assert (status, headers["Content-Type"], body) == (200, "audio/wav", b"RIFF")
    version = (await service.list_versions(client.app, caller(user), row["id"]))[0]
    async with client.app[STORAGE].open(version["storage_key"]) as blob:
        # S3 keeps the type with the object; a local file has none of its own.
        assert blob.content_type == ("audio/wav" if client.app[SETTINGS].storage_backend == "s3" else None)
