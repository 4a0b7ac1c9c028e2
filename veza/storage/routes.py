"""The download route behind LocalStorage's signed links."""

from __future__ import annotations

import re
import time

from aiohttp import hdrs, web
from pydantic import BaseModel, Field

from veza.errors import NotFound
from veza.headers import prepare
from veza.http import endpoint
from veza.keys import STORAGE
from veza.storage.base import content_disposition
from veza.storage.local import LocalStorage

routes = web.RouteTableDef()

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


class SignedLinkQuery(BaseModel):
    """What LocalStorage.presign puts in a link; a link that does not verify is a 404."""

    expires: str = Field("", description="Unix time after which the link is dead")
    filename: str = Field("", description="The name a download is saved under")
    signature: str = Field("", description="HMAC of the key, expiry and filename")


@routes.get("/storage/local/{key:.+}")
@endpoint(
    "Download through a signed local-storage link",
    query=SignedLinkQuery,
    tags=["storage"],
    content_type="application/octet-stream",
    errors=[416],
)
async def download_signed_file(request: web.Request, query: SignedLinkQuery) -> web.StreamResponse:
    storage = request.app.get(STORAGE)
    key = request.match_info["key"]
    expiry, filename = query.expires, query.filename
    if not isinstance(storage, LocalStorage) or not storage.verify(key, expiry, filename, query.signature):
        raise NotFound()
    byte_range = parse_range(request.headers.get(hdrs.RANGE))
    async with storage.open(key, *(byte_range or (None, None))) as blob:
        response = web.StreamResponse(status=206 if byte_range else 200)
        response.content_type = "application/octet-stream"
        response.content_length = blob.length
        response.headers[hdrs.ACCEPT_RANGES] = "bytes"
        response.headers[hdrs.CACHE_CONTROL] = f"private, max-age={max(0, int(expiry) - int(time.time()))}"
        if byte_range:
            response.headers[hdrs.CONTENT_RANGE] = blob.content_range
        if filename:
            response.headers[hdrs.CONTENT_DISPOSITION] = content_disposition(filename)
        await prepare(request, response)
        async for chunk in blob:
            await response.write(chunk)
        await response.write_eof()
    return response
