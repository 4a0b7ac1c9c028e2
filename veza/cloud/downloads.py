"""How a blob reaches a browser, decided here and nowhere else.

Local storage: the app streams it, with byte ranges (206/416) and an attachment
name. S3: a 302 to a presigned URL that lives a few minutes, so the bytes never
pass through the app.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from veza.headers import prepare
from veza.keys import STORAGE
from veza.storage import LocalStorage, content_disposition
from veza.storage.routes import parse_range

PRESIGN_SECONDS = 300


def requested_range(request: web.Request) -> tuple[int | None, int | None] | None:
    return parse_range(request.headers.get(hdrs.RANGE))


async def serve_blob(request: web.Request, *, key: str, filename: str, content_type: str) -> web.StreamResponse:
    storage = request.app[STORAGE]
    if not isinstance(storage, LocalStorage):
        url = await storage.presign(key, PRESIGN_SECONDS, filename=filename)
        return web.Response(status=302, headers={hdrs.LOCATION: url, hdrs.CACHE_CONTROL: "no-store"})
    byte_range = requested_range(request)
    async with storage.open(key, *(byte_range or (None, None))) as blob:
        response = web.StreamResponse(status=206 if byte_range else 200)
        response.content_type = content_type
        response.content_length = blob.length
        response.headers[hdrs.ACCEPT_RANGES] = "bytes"
        response.headers[hdrs.CACHE_CONTROL] = "private, no-store"
        response.headers[hdrs.CONTENT_DISPOSITION] = content_disposition(filename)
        if byte_range:
            response.headers[hdrs.CONTENT_RANGE] = blob.content_range
        await prepare(request, response)
        async for chunk in blob:
            await response.write(chunk)
        await response.write_eof()
    return response
