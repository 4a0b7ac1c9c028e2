"""Who is calling: the bearer token, checked once per request by the edge (veza.edge)."""

from __future__ import annotations

from aiohttp import web

from veza.auth.revocation import is_revoked
from veza.auth.tokens import InvalidToken, decode_access_token
from veza.keys import AUTH_ERROR, SETTINGS, USER


async def authenticate(app: web.Application, request: web.Request) -> None:
    """Put the token's user on the request, or the reason it has none.

    A bad token is not an error by itself: a public route ignores it, and a
    guarded one answers 401 with the reason (see veza.http.require_user).
    """
    header = request.headers.get("Authorization")
    if header is None:
        return
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        request[AUTH_ERROR] = "Malformed Authorization header: expected 'Bearer <token>'"
        return
    try:
        user = decode_access_token(app[SETTINGS], token.strip())
        if await is_revoked(app, user):
            raise InvalidToken("Access token revoked")
    except InvalidToken as exc:
        request[AUTH_ERROR] = str(exc)
        return
    request[USER] = user
