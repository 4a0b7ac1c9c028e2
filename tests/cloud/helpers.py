"""Uploading, downloading and looking into storage, for the cloud's tests."""

from __future__ import annotations

import hashlib
from typing import Any

import aiohttp
from yarl import URL

from veza.keys import DB, STORAGE

API = "/api/v1/cloud"
FILES = f"{API}/files"
BOUNDARY = "veza-test-boundary-7d1f"


def form(
    data: bytes | Any = b"hello cloud",
    *,
    filename: str | None = "track.wav",
    content_type: str = "audio/wav",
    name: str | None = None,
    tags: str | list[str] | None = None,
    file_last: bool = False,
) -> aiohttp.FormData:
    body = aiohttp.FormData()
    fields: list[tuple[str, str]] = []
    if name is not None:
        fields.append(("name", name))
    for value in [tags] if isinstance(tags, str) else tags or []:
        fields.append(("tags", value))
    if file_last:
        for key, value in fields:
            body.add_field(key, value)
    body.add_field("file", data, filename=filename, content_type=content_type)
    if not file_last:
        for key, value in fields:
            body.add_field(key, value)
    return body


def raw_multipart(*parts: tuple[str, bytes], boundary: str = BOUNDARY) -> tuple[bytes, dict[str, str]]:
    """A multipart body built by hand, as a browser sends it: each part is (its header lines, its bytes)."""
    out = b""
    for headers, content in parts:
        out += f"--{boundary}\r\n".encode() + headers.encode() + b"\r\n\r\n" + content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def file_part(filename: str, content: bytes, content_type: str = "application/octet-stream") -> tuple[str, bytes]:
    return (
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\nContent-Type: {content_type}',
        content,
    )


async def upload(client, user, data: bytes | Any = b"hello cloud", **kwargs: Any):
    return await client.post(FILES, data=form(data, **kwargs), headers=user["headers"])


async def upload_ok(client, user, data: bytes | Any = b"hello cloud", **kwargs: Any) -> dict[str, Any]:
    resp = await upload(client, user, data, **kwargs)
    assert resp.status == 201, await resp.text()
    return (await resp.json())["data"]


async def put_content(client, user, file_id: str, data: bytes | Any, **kwargs: Any):
    return await client.put(f"{FILES}/{file_id}/content", data=form(data, **kwargs), headers=user["headers"])


async def fetch(client, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET a download; a 302 to a presigned URL is followed as a browser would (without our headers)."""
    resp = await client.get(path, headers=headers, allow_redirects=False)
    if resp.status != 302:
        return resp.status, dict(resp.headers), await resp.read()
    location = resp.headers["Location"]
    ranged = {"Range": headers["Range"]} if headers and "Range" in headers else None
    async with aiohttp.ClientSession() as session, session.get(URL(location, encoded=True), headers=ranged) as s3:
        return s3.status, dict(s3.headers), await s3.read()


async def stored_keys(app) -> list[str]:
    """Every object in the app's storage: files under the local folder, objects and pending uploads in S3."""
    storage = app[STORAGE]
    if hasattr(storage, "root"):
        if not storage.root.exists():
            return []
        return sorted(str(path.relative_to(storage.root)) for path in storage.root.rglob("*") if path.is_file())
    keys: list[str] = []
    listing = await storage.client.list_objects_v2(Bucket=storage.bucket)
    keys += [item["Key"] for item in listing.get("Contents", [])]
    uploads = await storage.client.list_multipart_uploads(Bucket=storage.bucket)
    keys += [f"(pending upload) {item['Key']}" for item in uploads.get("Uploads", [])]
    return sorted(keys)


async def table_counts(app) -> dict[str, int]:
    db = app[DB]
    tables = ["cloud_files", "cloud_file_versions", "cloud_shares", "cloud_upload_reservations"]
    return {table: await db.fetch_val(f"SELECT count(*) FROM {table}") for table in tables}


async def used_bytes(app, user) -> int:
    value = await app[DB].fetch_val("SELECT used_bytes FROM cloud_usage WHERE user_id = %s", (user["user"]["id"],))
    return value or 0


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
