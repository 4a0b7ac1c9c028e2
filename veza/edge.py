"""What every request goes through (`edge`): request id, authentication, errors as the envelope,
response headers (veza.headers), metrics; and the runner that puts it in front of the app."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from time import perf_counter

from aiohttp import hdrs, web

from veza.auth.middleware import authenticate
from veza.errors import ApiError, Unavailable
from veza.headers import X_REQUEST_ID, add_response_headers, origin_allowed
from veza.http import error_body, json_response
from veza.keys import METRICS, REQUEST_ID, SETTINGS
from veza.outages import down_dependency
from veza.settings import Settings

log = logging.getLogger(__name__)

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Request ids only need to be unique: a random per-process prefix and a counter.
_REQUEST_ID_PREFIX = secrets.token_hex(8)
_request_numbers = itertools.count(1)
AUTHORIZATION = hdrs.AUTHORIZATION
ACCESS_CONTROL_REQUEST_METHOD = hdrs.ACCESS_CONTROL_REQUEST_METHOD
ACCEPT_ENCODING = hdrs.ACCEPT_ENCODING
VARY = hdrs.VARY
JSON = "application/json"
COMPRESS_AT_LEAST = 1024  # bytes
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_response(
    request: web.Request,
    status: int,
    code: str,
    message: str,
    details: list | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = error_body(code, message, details or [], request.get(REQUEST_ID))
    return json_response(body, status=status, headers=headers)


def edge(app: web.Application) -> Handler:
    """What every request of `app` goes through, around aiohttp's routing: request id,
    authentication, CORS preflight, errors (404 and 405 included) as the envelope, response
    headers, metrics.

    It wraps the application's own request handler where the server calls it (EdgeRunner), not as
    an aiohttp middleware: aiohttp runs middlewares through two more coroutine layers per request,
    which cost a tenth of the health route's throughput (tests/bench/http.py).
    """
    route_and_call = app._handle  # aiohttp's routing, then the route's handler
    metrics = app[METRICS]
    settings = app[SETTINGS]  # request.app is only known once routed

    async def handle(request: web.Request) -> web.StreamResponse:
        headers = request.headers
        given = headers.get(X_REQUEST_ID)
        if given is None or not _REQUEST_ID_OK.match(given):
            given = f"{_REQUEST_ID_PREFIX}{next(_request_numbers):016x}"
        request[REQUEST_ID] = given
        started = perf_counter()
        try:
            if request.method == "OPTIONS" and ACCESS_CONTROL_REQUEST_METHOD in headers:
                response = cors_preflight(request, settings)
            else:
                if AUTHORIZATION in headers:
                    await authenticate(app, request)
                response = await route_and_call(request)
        except ApiError as exc:
            response = error_response(request, exc.status, exc.code, exc.message, exc.details, exc.headers)
            if exc.close_connection:
                response.force_close()
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            kept = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
            code = HTTP_CODES.get(exc.status, "http_error")
            response = error_response(request, exc.status, code, exc.reason, headers=kept)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:
            if dependency := down_dependency(exc):
                response = unavailable_response(request, dependency, exc)
            else:
                log.exception(
                    "unhandled error on %s %s",
                    request.method,
                    request.path,
                    extra={"fields": {"request_id": request[REQUEST_ID]}},
                )
                response = error_response(request, 500, "internal_error", "Internal server error")
        if not response.prepared:  # streamed answers set theirs in veza.headers.prepare
            add_response_headers(response, given, settings, headers)
            if "gzip" in headers.get(ACCEPT_ENCODING, "") and response.content_type == JSON:
                compress_large(response)
        metrics.observe(request.method, route_name(request), response.status, perf_counter() - started)
        return response

    return handle


def route_name(request: web.Request) -> str:
    """The matched route's pattern (metrics label), or "unmatched"."""
    match_info = request._match_info  # None when routing itself failed
    resource = match_info.route.resource if match_info is not None else None
    return resource.canonical if resource is not None else "unmatched"


class EdgeRunner(web.AppRunner):
    """aiohttp's AppRunner, whose server passes every request through `edge`."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.request_handler = edge(self.app)
        return server


def compress_large(response: web.StreamResponse) -> None:
    """A JSON answer of a kilobyte or more goes gzip-compressed to a client that accepts it: a page of the
    catalog shrinks about fivefold. Smaller ones are not worth the CPU."""
    body = getattr(response, "body", None)
    if isinstance(body, bytes) and len(body) >= COMPRESS_AT_LEAST:
        response.enable_compression(web.ContentCoding.gzip)
        response.headers.add(VARY, ACCEPT_ENCODING)


def unavailable_response(request: web.Request, dependency: str, exc: Exception) -> web.Response:
    """503 with Retry-After, and one warning line (no traceback: the outage is not a bug here)."""
    log.warning(
        "%s unavailable on %s %s: %s: %s",
        dependency,
        request.method,
        request.path,
        type(exc).__name__,
        str(exc).strip().splitlines()[0] if str(exc).strip() else "",
        extra={"fields": {"request_id": request[REQUEST_ID], "dependency": dependency}},
    )
    answer = Unavailable()
    return error_response(request, answer.status, answer.code, answer.message, headers=answer.headers)


def cors_preflight(request: web.Request, settings: Settings) -> web.Response:
    """Answer a CORS preflight from a configured origin before routing can 405 it."""
    origin = request.headers.get("Origin", "")
    if not origin_allowed(settings.cors_origins, origin):
        return error_response(request, 403, "cors_forbidden", "Origin not allowed")
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key, X-Request-ID",
            "Access-Control-Max-Age": "600",
        },
    )
