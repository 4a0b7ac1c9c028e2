"""A stored blob as an HTTP answer: byte ranges (206/416), content type, cache headers, a download name.

Local storage: the app streams the bytes. S3 (any backend that is not local): a
302 to a presigned URL that lives a few minutes, answered by S3 with the same
type and name, so the bytes never pass through the app.

A route that serves a `Download` can also hand out a link to it (`link_response`): a
browser cannot put its bearer token on a link, nor follow a 302 to S3 with fetch().
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from aiohttp import hdrs, web

from veza.headers import prepare
from veza.http import ok
from veza.keys import STORAGE
from veza.storage.base import Download, Storage, content_disposition
from veza.storage.local import LocalStorage
from veza.storage.models import DownloadLinkOut

PRESIGN_SECONDS = 300
PRIVATE = "private, no-store"

_RANGE = re.compile(r"bytes=([0-9]{0,18})-([0-9]{0,18})")


def parse_range(header: str | None) -> tuple[int | None, int | None] | None:
    """The one byte range asked for; None (the whole object) for no header or one we ignore."""
    match = _RANGE.fullmatch((header or "").strip())
    if match is None or match.groups() == ("", ""):
        return None
    start, end = (int(value) if value else None for value in match.groups())
    if start is not None and end is not None and end < start:
        return None
    return start, end


def requested_range(request: web.Request) -> tuple[int | None, int | None] | None:
    return parse_range(request.headers.get(hdrs.RANGE))


async def serve_blob(
    request: web.Request,
    key: str,
    *,
    content_type: str,
    filename: str | None = None,
    cache_control: str = PRIVATE,
) -> web.StreamResponse:
    """The blob at `key` from the app's storage: streamed from a local disk, a redirect to S3 otherwise."""
    storage = request.app[STORAGE]
    if not isinstance(storage, LocalStorage):
        url = await storage.presign(key, PRESIGN_SECONDS, filename=filename, content_type=content_type)
        return web.Response(status=302, headers={hdrs.LOCATION: url, hdrs.CACHE_CONTROL: "no-store"})
    return await stream_blob(
        request, storage, key, content_type=content_type, filename=filename, cache_control=cache_control
    )


async def serve_download(request: web.Request, download: Download) -> web.StreamResponse:
    return await serve_blob(request, download.key, content_type=download.content_type, filename=download.filename)


async def download_link(storage: Storage, download: Download, seconds: int = PRESIGN_SECONDS) -> DownloadLinkOut:
    """A URL that downloads the file without a token for `seconds`: presigned on S3 (typed and named as
    `serve_blob` answers), the signed-link route of local storage otherwise."""
    expires = int(time.time()) + seconds  # what a local link signs; an S3 link counts from the same second
    url = await storage.presign(download.key, seconds, filename=download.filename, content_type=download.content_type)
    return DownloadLinkOut(url=url, expires_at=datetime.fromtimestamp(expires, UTC))


async def link_response(request: web.Request, download: Download) -> web.Response:
    link = await download_link(request.app[STORAGE], download)
    return ok(link, headers={hdrs.CACHE_CONTROL: "no-store"})


async def stream_blob(
    request: web.Request,
    storage: Storage,
    key: str,
    *,
    content_type: str,
    filename: str | None = None,
    cache_control: str = PRIVATE,
) -> web.StreamResponse:
    """The blob's bytes through the app, or the byte range the request asks for."""
    byte_range = requested_range(request)
    async with storage.open(key, *(byte_range or (None, None))) as blob:
        response = web.StreamResponse(status=206 if byte_range else 200)
        response.content_type = content_type
        response.content_length = blob.length
        response.headers[hdrs.ACCEPT_RANGES] = "bytes"
        response.headers[hdrs.CACHE_CONTROL] = cache_control
        if byte_range:
            response.headers[hdrs.CONTENT_RANGE] = blob.content_range
        if filename:
            response.headers[hdrs.CONTENT_DISPOSITION] = content_disposition(filename)
        await prepare(request, response)
        async for chunk in blob:
            await response.write(chunk)
        await response.write_eof()
    return response
