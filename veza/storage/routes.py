"""The download route behind LocalStorage's signed links."""

from __future__ import annotations

import time

from aiohttp import web
from pydantic import BaseModel, Field

from veza.errors import NotFound
from veza.http import endpoint
from veza.keys import STORAGE
from veza.storage.local import LocalStorage
from veza.storage.serve import stream_blob

routes = web.RouteTableDef()


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
    auth="credential",
)
async def download_signed_file(request: web.Request, query: SignedLinkQuery) -> web.StreamResponse:
    storage = request.app.get(STORAGE)
    key = request.match_info["key"]
    expiry, filename = query.expires, query.filename
    if not isinstance(storage, LocalStorage) or not storage.verify(key, expiry, filename, query.signature):
        raise NotFound()
    max_age = max(0, int(expiry) - int(time.time()))
    return await stream_blob(
        request,
        storage,
        key,
        content_type="application/octet-stream",
        filename=filename or None,
        cache_control=f"private, max-age={max_age}",
    )
