"""Expiring share links: a random token per link, only its SHA-256 kept.

Unknown, malformed, expired and revoked tokens, and tokens of deleted files,
all get the same 404; the public routes are rate-limited per client address.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any
from uuid import UUID

from aiohttp import web

from veza.auth.tokens import AuthUser
from veza.cloud import queries
from veza.cloud.models import ShareIn
from veza.constants import API_PREFIX
from veza.db import Row, transaction
from veza.errors import NotFound
from veza.keys import DB, REDIS, SETTINGS
from veza.ratelimit import limit

TOKEN_BYTES = 32  # 256 bits
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
SHARED_HITS_PER_MINUTE = 120  # per client address, over both public routes
LINK_NOT_FOUND = "This link does not exist or has expired"


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def shared_url(app: web.Application, token: str, suffix: str = "") -> str:
    return f"{app[SETTINGS].public_url.rstrip('/')}{API_PREFIX}/cloud/shared/{token}{suffix}"


async def create_share(app: web.Application, user: AuthUser, file_id: UUID, body: ShareIn) -> dict[str, Any]:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    async with transaction(app[DB]) as tx:
        await queries.get_file(tx, file_id, user.id)
        row = await queries.insert_share(
            tx,
            {
                "file_id": file_id,
                "token_hash": hash_token(token),
                "created_by": user.id,
                "permissions": body.permissions,
                "hours": body.expires_in_hours,
            },
        )
    return {**row, "token": token, "share_url": shared_url(app, token)}


async def list_shares(
    app: web.Application, user: AuthUser, file_id: UUID, *, limit: int, offset: int
) -> tuple[list[Row], int]:
    db = app[DB]
    await queries.get_file(db, file_id, user.id)
    return await queries.page_shares(db, file_id, limit=limit, offset=offset)


async def revoke_share(app: web.Application, user: AuthUser, share_id: UUID) -> Row:
    return await queries.revoke_share(app[DB], share_id, user.id)


async def open_share(app: web.Application, token: str, *, client: str) -> Row:
    """The file behind `token`, if the link is live; one 404 for every other case.

    `client` is the caller's address: each gets SHARED_HITS_PER_MINUTE over both public routes.
    """
    await limit(app[REDIS], "cloud-shared", client, max_hits=SHARED_HITS_PER_MINUTE, per=60)
    row = await queries.shared_file(app[DB], hash_token(token)) if _TOKEN.fullmatch(token) else None
    if row is None:
        raise NotFound(LINK_NOT_FOUND)
    return row


async def shared_version(app: web.Application, token: str, *, client: str, count: bool) -> tuple[Row, Row]:
    """The shared file and its current version; `count` adds one to the link's downloads."""
    row = await open_share(app, token, client=client)
    db = app[DB]
    try:
        version = await queries.get_version(db, row["id"], row["current_version"])
    except NotFound:  # the file went in between
        raise NotFound(LINK_NOT_FOUND) from None
    if count:
        await queries.count_download(db, row["share_id"])
    return row, version
