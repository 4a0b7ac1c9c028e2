"""Uploads as browsers send them: multipart/form-data, read part by part as it arrives.

The `file` part flows from the socket to the service's ``store`` chunk by
chunk; the small text fields (`name`, `tags`) are read with a cap, before or
after the file. A client that stops sending for BODY_IDLE_TIMEOUT gets a 408.
The service owns what is stored and undoes it on failure; this module only
parses (the HTTP side of ``cloud/service.py``'s ``Upload``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import BodyPartReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from veza.cloud.models import MAX_FIELD_CHARS
from veza.cloud.uploads import FileTooLarge, Received, Store
from veza.errors import BadRequest, Invalid, UnsupportedMediaType
from veza.http import refuse_unstorable, safe_text, within_idle_gap

MULTIPART_SLACK = 64 * 1024  # what boundaries, part headers and text fields may add to the file's bytes
MAX_FIELD_BYTES = 4 * MAX_FIELD_CHARS  # what the longest field can take in UTF-8
MAX_PARTS = 16
READ_SIZE = 256 * 1024
IDENTITY_ENCODINGS = {"", "identity", "binary", "8bit", "7bit"}

Fields = dict[str, list[str]]


class MalformedUpload(BadRequest):
    code = "malformed_multipart"
    message = "The multipart body is malformed"


class MultipartSource:
    """A request's multipart body as an upload ``Source``: `file`, and the `text_fields` it may carry."""

    framing = MULTIPART_SLACK  # Content-Length counts boundaries and fields too: the file may be this much smaller

    def __init__(self, request: web.Request, text_fields: frozenset[str] = frozenset()) -> None:
        self.request = request
        self.text_fields = text_fields

    def max_size(self, limit: int) -> int | None:
        return declared_length(self.request, limit)

    async def read(self, store: Store) -> tuple[Received, dict[str, Any]]:
        received, fields = await read_form(self.request, store, self.text_fields)
        return received, upload_fields(fields)


def upload_fields(fields: Fields) -> dict[str, Any]:
    names = fields.get("name", [])
    if len(names) > 1:
        raise Invalid(details=[{"field": "name", "message": "given more than once"}])
    return {"name": names[0] if names else None, "tags": parse_tags(fields.get("tags", []))}


def declared_length(request: web.Request, limit: int) -> int | None:
    """Content-Length, refused at once (before any byte is read) when the file cannot fit the limit."""
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType("Content-Type must be multipart/form-data")
    length = request.content_length
    if length is not None and length > limit + MULTIPART_SLACK:
        raise FileTooLarge(limit)
    return length


async def read_form(request: web.Request, store: Store, text_fields: frozenset[str]) -> tuple[Received, Fields]:
    """Read the form: its one `file` part goes to `store` as it arrives; the text fields are collected.

    Raises 400 (malformed), 408 (the body stopped arriving), 415 (encodings), 422 (fields);
    `store` raises 413 (limit, quota).
    """
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError, KeyError):
        raise MalformedUpload() from None
    received: Received | None = None
    fields: Fields = {}
    for _ in range(MAX_PARTS + 1):
        part = await _next_part(request, reader)
        if part is None:
            break
        if part.name == "file" and received is None:
            _check_encoding(part)
            received = await store(
                _file_chunks(request, part), client_filename(part), part.headers.get(hdrs.CONTENT_TYPE)
            )
        elif part.name == "file":
            raise Invalid(details=[{"field": "file", "message": "only one file per upload"}])
        elif part.name in text_fields:
            fields.setdefault(part.name, []).append(await _read_text(request, part))
        else:
            raise Invalid(details=[{"field": safe_text(str(part.name or "")), "message": "unknown field"}])
    else:
        raise Invalid(details=[{"field": "body", "message": f"at most {MAX_PARTS} parts"}])
    if received is None:
        raise Invalid(details=[{"field": "file", "message": "Field required"}])
    return received, fields


async def _file_chunks(request: web.Request, part: BodyPartReader) -> AsyncIterator[bytes]:
    while not part.at_eof():
        yield await _read_chunk(request, part)


async def _next_part(request: web.Request, reader: Any) -> BodyPartReader | None:
    try:
        part = await within_idle_gap(request, reader.next())
    except (ValueError, HttpProcessingError):
        raise MalformedUpload() from None
    if part is not None and not isinstance(part, BodyPartReader):
        raise MalformedUpload("Nested multipart bodies are not accepted")
    return part


def _check_encoding(part: BodyPartReader) -> None:
    for header in (hdrs.CONTENT_ENCODING, hdrs.CONTENT_TRANSFER_ENCODING):
        if part.headers.get(header, "").strip().lower() not in IDENTITY_ENCODINGS:
            raise UnsupportedMediaType(f"{header} is not supported: send the bytes as they are")


async def _read_chunk(request: web.Request, part: BodyPartReader) -> bytes:
    try:
        return await within_idle_gap(request, part.read_chunk(READ_SIZE))
    except (ValueError, HttpProcessingError):
        raise MalformedUpload() from None


async def _read_text(request: web.Request, part: BodyPartReader) -> str:
    _check_encoding(part)
    data = bytearray()
    while not part.at_eof():
        data += await _read_chunk(request, part)
        if len(data) > MAX_FIELD_BYTES:
            raise Invalid(details=[{"field": str(part.name), "message": f"at most {MAX_FIELD_BYTES} bytes"}])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(details=[{"field": str(part.name), "message": "not valid UTF-8"}]) from None
    if len(text) > MAX_FIELD_CHARS:
        raise Invalid(details=[{"field": str(part.name), "message": f"at most {MAX_FIELD_CHARS} characters"}])
    refuse_unstorable(text, str(part.name))
    return text


def client_filename(part: BodyPartReader) -> str | None:
    """The part's filename, percent-decoded: browsers escape `"`, CR and LF so, some clients every byte.

    (``filename*`` per RFC 5987 is decoded by aiohttp already.)
    """
    filename = part.filename
    if filename is None or "%" not in filename:
        return filename
    try:
        return unquote(filename, errors="strict")
    except UnicodeDecodeError:
        return filename


def parse_tags(values: list[str]) -> list[str]:
    """Tags from form fields: each a JSON array of strings, or a comma-separated list."""
    tags: list[str] = []
    for value in values:
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                parsed = None
            if not isinstance(parsed, list) or not all(isinstance(tag, str) for tag in parsed):
                raise Invalid(details=[{"field": "tags", "message": "a JSON array of strings, or comma-separated"}])
            tags += parsed
        else:
            tags += [tag for tag in text.split(",") if tag.strip()]
    return tags
