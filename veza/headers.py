"""The headers every answer carries, and `prepare` for answers a handler streams itself."""

from __future__ import annotations

from aiohttp import web, web_response
from multidict import CIMultiDict, CIMultiDictProxy, istr

from veza.keys import REQUEST_ID, SETTINGS
from veza.settings import Settings

SERVER = "Veza"
# aiohttp gives every answer that has none `Server: Python/<version> aiohttp/<version>`, its own
# answers to malformed requests included (no middleware sees those). It has no setting for the
# header; this module global is what it reads when it writes one.
web_response.SERVER_SOFTWARE = SERVER
CORS_EXPOSED = "X-Request-ID, Retry-After, ETag"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
HSTS = ("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
# istr names: multidict looks them up without folding their case, ten times cheaper per header.
X_REQUEST_ID = istr("X-Request-ID")
VARY = istr("Vary")

# id(settings) -> (settings, the headers every answer carries under them), computed once per Settings.
_fixed_blocks: dict[int, tuple[Settings, tuple[tuple[istr, str], ...]]] = {}


def fixed_headers(settings: Settings) -> tuple[tuple[istr, str], ...]:
    """The security headers (and HSTS behind https) as istr pairs, built once per Settings."""
    cached = _fixed_blocks.get(id(settings))
    if cached is not None and cached[0] is settings:
        return cached[1]
    block = list(SECURITY_HEADERS.items())
    if settings.public_url.startswith("https://"):
        block.append(HSTS)
    if len(_fixed_blocks) >= 64:  # a process has one Settings; tests make many
        _fixed_blocks.clear()
    pairs = tuple((istr(name), value) for name, value in block)
    _fixed_blocks[id(settings)] = (settings, pairs)
    return pairs


def add_response_headers(
    response: web.StreamResponse, request_id: str | None, settings: Settings, request_headers: CIMultiDictProxy[str]
) -> None:
    """Request id, security and CORS headers, on every answer: the edge sets them on returned
    responses, `prepare` on responses streamed from inside a handler."""
    headers = response.headers
    if request_id:
        headers[X_REQUEST_ID] = request_id
    if isinstance(response, web.WebSocketResponse):
        return  # a 101 handshake carries no content; its headers would live as long as the socket
    for name, value in fixed_headers(settings):
        headers.setdefault(name, value)  # an answer's own value (say, its own CSP) wins
    if settings.cors_origins:
        add_cors_headers(settings.cors_origins, request_headers.get("Origin"), headers)


def add_cors_headers(allowed: list[str], origin: str | None, headers: CIMultiDict[str]) -> None:
    """A listed origin is echoed and may send credentials; with "*" any other origin may read
    the answer, without credentials. Either way the answer depends on Origin: `Vary: Origin`."""
    if "origin" not in headers.get(VARY, "").lower():
        headers.add(VARY, "Origin")
    if not origin:
        return
    if origin_listed(allowed, origin):
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Allow-Credentials"] = "true"
    elif "*" in allowed:
        headers["Access-Control-Allow-Origin"] = "*"
    else:
        return
    headers["Access-Control-Expose-Headers"] = CORS_EXPOSED


def origin_listed(allowed: list[str], origin: str) -> bool:
    """Named in CORS_ORIGINS. `null` (sandboxed frames, files) is never trusted with credentials."""
    return origin != "null" and origin != "*" and origin in allowed


def origin_allowed(allowed: list[str], origin: str) -> bool:
    return origin_listed(allowed, origin) or "*" in allowed


async def prepare(request: web.Request, response: web.StreamResponse) -> None:
    """`response.prepare(request)` with the headers every answer carries (the edge only sees a
    streamed response after its headers have left)."""
    add_response_headers(response, request.get(REQUEST_ID), request.app[SETTINGS], request.headers)
    await response.prepare(request)
