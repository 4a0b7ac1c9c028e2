"""The HTTP side of every route: the envelope, request parsing, pagination.

A handler declares what it takes and gives with ``@endpoint``; the decorator
parses and validates the body and query into pydantic models, checks the
authentication rule, and records all of it for the OpenAPI document::

    @routes.post("/live/streams")
    @endpoint(body=StreamIn, response=StreamOut, status=201, auth="user", tags=["live"])
    async def create_stream(request, body: StreamIn): ...
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from urllib.parse import parse_qsl
from uuid import UUID

import orjson
from aiohttp import hdrs, web
from multidict import CIMultiDict
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import to_jsonable_python

from veza.errors import (
    BadRequest,
    Forbidden,
    Invalid,
    NotFound,
    RequestTimeout,
    Unauthorized,
    UnsupportedMediaType,
)
from veza.keys import AUTH_ERROR, SETTINGS, USER

CONTENT_TYPE, ETAG, CACHE_CONTROL, IF_NONE_MATCH = hdrs.CONTENT_TYPE, hdrs.ETAG, hdrs.CACHE_CONTROL, hdrs.IF_NONE_MATCH

if TYPE_CHECKING:
    from veza.auth.tokens import AuthUser

Handler = Callable[..., Awaitable[web.StreamResponse]]
MAX_PARSED_QUERIES = 1024  # per route; a route answered for more distinct query strings starts over
T = TypeVar("T")


def json_dumps(data: Any) -> bytes:
    """JSON bytes; datetimes in UTC end in Z, pydantic models dump as in their schema."""
    return orjson.dumps(data, default=to_jsonable_python, option=orjson.OPT_UTC_Z)


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_bytes_response(data, status=status, headers=headers, dumps=json_dumps)


def ok(data: Any = None, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"success": True, "data": data}, status=status, headers=headers)


class CachedPage(NamedTuple):
    """A public answer rendered once and served many times: its body, its ETag, and the headers every
    answer of it carries (Content-Type, ETag, Cache-Control), copied into each."""

    body: bytes
    etag: str
    headers: CIMultiDict[str]


def cached_page(data: Any, *, max_age: int) -> CachedPage:
    """The success envelope of `data` as a CachedPage, with a strong ETag of its bytes; browsers and CDNs
    may reuse it for `max_age` seconds."""
    body = json_dumps({"success": True, "data": data})
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    headers = CIMultiDict(
        ((CONTENT_TYPE, "application/json"), (ETAG, etag), (CACHE_CONTROL, f"public, max-age={max_age}"))
    )
    return CachedPage(body, etag, headers)


def cacheable_response(request: web.Request, page: CachedPage) -> web.Response:
    """The page's answer, or 304 when the client already has it."""
    if (known := request.headers.get(IF_NONE_MATCH)) is not None and page.etag in (
        tag.strip() for tag in known.split(",")
    ):
        return web.Response(status=304, headers={ETAG: page.etag, CACHE_CONTROL: page.headers[CACHE_CONTROL]})
    return web.Response(body=page.body, headers=page.headers.copy())


def error_body(code: str, message: str, details: list[dict[str, Any]], request_id: str | None) -> dict:
    return {
        "success": False,
        "error": message,
        "code": code,
        "details": details,
        "request_id": request_id,
    }


class Page(BaseModel):
    """limit/offset paging; lists answer with their items under a plural name and `total`."""

    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=1_000_000)


class PublicPage(Page):
    """The paging of a hot public list: frozen, so `endpoint` parses each distinct query string once."""

    model_config = ConfigDict(frozen=True)


def validation_details(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(part) for part in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors(include_url=False)
    ]


# PostgreSQL text cannot hold NUL, and a lone surrogate has no UTF-8 form (psycopg2 and redis-py
# fail to encode it): text with either is refused where it enters, never sent to a store.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "contains a character that cannot be stored (NUL or a lone surrogate)"


def safe_text(text: str) -> str:
    """Text with its unstorable characters escaped, safe to echo back in an error."""
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def unstorable_fields(data: Any, field: str = "") -> list[str]:
    """The fields (dotted, as in validation details) whose text or object key cannot be stored."""
    bad: list[str] = []
    stack = [(field, data)]
    while stack:  # a loop, not recursion: JSON may nest a thousand levels deep
        path, value = stack.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                bad.append(path or "body")
        elif isinstance(value, dict):
            for key, item in value.items():
                here = f"{path}.{safe_text(str(key))}" if path else safe_text(str(key))
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    bad.append(here)
                else:
                    stack.append((here, item))
        elif isinstance(value, list | tuple):
            stack.extend((f"{path}.{i}" if path else str(i), item) for i, item in enumerate(value))
    return sorted(bad)


def refuse_unstorable(data: Any, field: str = "") -> None:
    """422 naming every field of `data` (nested values and object keys included) that cannot be stored."""
    bad = unstorable_fields(data, field)
    if bad:
        raise Invalid(details=[{"field": name, "message": UNSTORABLE_MESSAGE} for name in bad])


def validate(model: type[BaseModel], data: Any) -> BaseModel:
    refuse_unstorable(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(details=validation_details(exc)) from None


async def within_idle_gap(request: web.Request, read: Awaitable[T]) -> T:
    """One read of the request body, given at most BODY_IDLE_TIMEOUT seconds to get bytes.

    Past that the client is answered 408 and its connection closed: the body is failed with the
    timeout, so aiohttp does not linger reading the rest of it. A client gone mid-body is a 400.
    """
    try:
        async with asyncio.timeout(request.app[SETTINGS].body_idle_timeout):
            return await read
    except TimeoutError:
        request.content.set_exception(TimeoutError("the request body stopped arriving"))
        raise RequestTimeout() from None
    except ConnectionResetError:
        # The client left mid-body. Raised as is, aiohttp would log it as an error with its
        # traceback, one per connection; nobody reads this answer, aiohttp drops it quietly.
        raise BadRequest("The connection was lost before the body arrived", code="connection_lost") from None


async def read_body(request: web.Request) -> bytes:
    """The whole body, as `request.read()` gives it, with no wait for bytes longer than the idle gap."""
    body = bytearray()
    limit = request.client_max_size
    while chunk := await within_idle_gap(request, request.content.readany()):
        body += chunk
        if limit and len(body) > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
    return bytes(body)


async def read_json_object(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Content-Type must be application/json")
    if request.charset is not None and request.charset.lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("JSON must be UTF-8 (RFC 8259): drop the charset or send charset=utf-8")
    raw = await read_body(request)
    if not raw.strip():
        raise BadRequest("Request body is empty", code="empty_body")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Request body is not valid JSON", code="malformed_json") from None
    if not isinstance(data, dict):
        raise BadRequest("Request body must be a JSON object", code="malformed_json")
    return data


async def read_form(request: web.Request) -> dict[str, str]:
    """An urlencoded form's fields, read like a JSON body (size limit, idle gap).

    A repeated field keeps its first value: nginx-rtmp appends the publisher's own URL arguments
    after its fields, and those must not override them.
    """
    if request.content_type != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("Content-Type must be application/x-www-form-urlencoded")
    if request.charset is not None and request.charset.lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("Forms must be UTF-8: drop the charset or send charset=utf-8")
    form: dict[str, str] = {}
    for key, value in parse_qsl((await read_body(request)).decode("utf-8", "replace"), keep_blank_values=True):
        form.setdefault(key, value)
    return form


def uuid_param(request: web.Request, name: str = "id") -> UUID:
    """A path id; anything that is not a UUID cannot name an object, so it is a 404."""
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise NotFound() from None


@dataclass(frozen=True)
class EndpointSpec:
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: str = "public"  # who may call it: one of ACCESS
    body_required: bool = True
    tags: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()
    content_type: str = "application/json"
    form: type[BaseModel] | None = None  # an HTML form body (urlencoded), parsed like a JSON body
    upload: type[BaseModel] | None = None  # a multipart body the handler streams itself: documented only
    # What the answer makes: route path -> JSON pointer of its new path parameter in the answer
    # (OpenAPI links, which stateful fuzzing follows), e.g. {"/live/streams/{id}": "/data/id"}
    links: tuple[tuple[str, str], ...] = ()


def require_user(request: web.Request) -> AuthUser:
    """The caller, or 401 with the reason their token was refused."""
    user = request.get(USER)
    if user is None:
        raise Unauthorized(request.get(AUTH_ERROR) or "Authentication required")
    return user


def require_role(request: web.Request, role: str) -> AuthUser:
    """The caller if they have `role` (admins have every role), else 403."""
    user = require_user(request)
    if user.role != role and user.role != "admin":
        raise Forbidden(f"Requires the {role} role")
    return user


# Who may call a route: every route declares one (`endpoint(auth=...)`), the app refuses to start
# with a route that does not, and tests/test_authz_matrix.py calls every route as each kind of
# caller to check the answer the declaration promises.
ACCESS: dict[str, str] = {
    "public": "anyone; a token changes nothing",
    "optional": "anyone; a token, when given, is used",
    "credential": "anyone holding the credential the request itself carries (a signature, a callback secret, "
    "a signed link, a share token, a refresh token, the metrics token); a bearer token gives nothing",
    "user": "any signed-in user, acting on their own account",
    "owner": "the signed-in owner of the object in the path; anyone else's object is a 404",
    "party": "a party to the sale in the path: the buyer or a seller of the order, the buyer or the seller of "
    "the product; anyone else gets a 404",
    "buyer": "a signed-in user who bought the (public) product in the path; anyone else gets a 403",
    "seller": "a signed-in user with the seller role (or admin)",
    "admin": "a signed-in admin",
}
NO_TOKEN_NEEDED = frozenset({"public", "optional", "credential"})
SIGNED_IN = frozenset({"user", "owner", "party", "buyer"})  # a token is needed; the rule is in the service
ROLES = frozenset({"seller", "admin"})


def check_auth(request: web.Request, rule: str) -> None:
    if rule in SIGNED_IN:
        require_user(request)
    elif rule in ROLES:
        require_role(request, rule)
    elif rule not in NO_TOKEN_NEEDED:
        raise ValueError(f"unknown access rule {rule!r}")


def endpoint(
    summary: str = "",
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    auth: str,
    tags: list[str] | tuple[str, ...] = (),
    errors: list[int] | tuple[int, ...] = (),
    content_type: str = "application/json",
    body_required: bool = True,
    form: type[BaseModel] | None = None,
    upload: type[BaseModel] | None = None,
    links: dict[str, str] | None = None,
) -> Callable[[Handler], Handler]:
    if auth not in ACCESS:
        raise ValueError(f"auth must be one of {sorted(ACCESS)}, not {auth!r}")

    def decorate(handler: Handler) -> Handler:
        spec = EndpointSpec(
            summary=summary or (handler.__doc__ or handler.__name__).strip().splitlines()[0],
            body=body,
            query=query,
            response=response,
            status=status,
            auth=auth,
            tags=tuple(tags),
            errors=tuple(errors),
            content_type=content_type,
            body_required=body_required,
            form=form,
            upload=upload,
            links=tuple((links or {}).items()),
        )

        if auth in NO_TOKEN_NEEDED and query is None and body is None and form is None:
            handler.endpoint = spec  # type: ignore[attr-defined]
            return handler  # nothing to check or parse: no wrapper on the hot path

        # A frozen query model cannot be changed by the handler: one parse per distinct query string
        # serves every request that repeats it (hot public pages: the catalog's first pages).
        parsed_queries: dict[str, BaseModel] | None = (
            {} if query is not None and query.model_config.get("frozen") else None
        )

        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            check_auth(request, auth)
            kwargs: dict[str, Any] = {}
            if query is not None:
                if parsed_queries is None:
                    kwargs["query"] = validate(query, dict(request.query))
                elif (parsed := parsed_queries.get(request.query_string)) is not None:
                    kwargs["query"] = parsed
                else:
                    kwargs["query"] = parsed = validate(query, dict(request.query))
                    if len(parsed_queries) >= MAX_PARSED_QUERIES:
                        parsed_queries.clear()
                    parsed_queries[request.query_string] = parsed
            if body is not None:
                empty = not request.body_exists and not body_required
                kwargs["body"] = validate(body, {} if empty else await read_json_object(request))
            if form is not None:
                kwargs["form"] = validate(form, await read_form(request))
            return await handler(request, **kwargs)

        wrapper.endpoint = spec  # type: ignore[attr-defined]
        return wrapper

    return decorate
