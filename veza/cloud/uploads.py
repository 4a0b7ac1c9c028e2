"""Multipart uploads, streamed: the `file` part goes to storage chunk by chunk, counted and hashed.

Nothing is buffered whole: the part's chunks flow from the socket into
``storage.put``; the small text fields (`name`, `tags`) are read with a cap,
before or after the file. The upload limit is enforced while streaming (and
up front from Content-Length when the client sends one), the quota through a
``Reservation`` that grows with the bytes. A client that stops sending for
BODY_IDLE_TIMEOUT gets a 408. Whatever goes wrong, the blob written so far
is removed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import BodyPartReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from veza.cloud.models import MAX_FIELD_CHARS
from veza.cloud.names import clean_content_type
from veza.cloud.quota import Reservation, format_bytes
from veza.errors import BadRequest, Invalid, PayloadTooLarge, UnsupportedMediaType
from veza.http import refuse_unstorable, safe_text, within_idle_gap
from veza.storage import Storage

log = logging.getLogger(__name__)

MULTIPART_SLACK = 64 * 1024  # what boundaries, part headers and text fields may add to the file's bytes
MAX_FIELD_BYTES = 4 * MAX_FIELD_CHARS  # what the longest field can take in UTF-8
MAX_PARTS = 16
READ_SIZE = 256 * 1024
IDENTITY_ENCODINGS = {"", "identity", "binary", "8bit", "7bit"}

_tasks: set[asyncio.Task] = set()


class FileTooLarge(PayloadTooLarge):
    code = "file_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The file is larger than the upload limit of {format_bytes(limit)}",
            details=[{"field": "file", "message": f"at most {limit} bytes"}],
        )


class MalformedUpload(BadRequest):
    code = "malformed_multipart"
    message = "The multipart body is malformed"


@dataclass
class Received:
    """The file part, now stored under its key, and the form's text fields."""

    size: int
    sha256: bytes
    content_type: str
    filename: str | None
    fields: dict[str, list[str]] = field(default_factory=dict)


async def run_to_end(coro: Coroutine[Any, Any, Any]) -> Any:
    """Await `coro`; if the caller is cancelled (the client left), `coro` still runs to its end."""
    task = asyncio.ensure_future(coro)
    _tasks.add(task)
    task.add_done_callback(_forget)
    return await asyncio.shield(task)


def _forget(task: asyncio.Task) -> None:
    _tasks.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a failure was already answered or logged


async def discard_blob(storage: Storage, key: str) -> None:
    try:
        await storage.delete(key)
    except Exception:
        log.exception("could not delete the blob %s of a failed upload", key)


def declared_length(request: web.Request, limit: int) -> int | None:
    """Content-Length, refused at once (before any byte is read) when the file cannot fit the limit."""
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType("Content-Type must be multipart/form-data")
    length = request.content_length
    if length is not None and length > limit + MULTIPART_SLACK:
        raise FileTooLarge(limit)
    return length


async def receive(
    request: web.Request,
    storage: Storage,
    key: str,
    *,
    limit: int,
    reservation: Reservation,
    text_fields: frozenset[str],
) -> Received:
    """Read the form: stream its one `file` part to `key`, collect the text fields.

    Raises 400 (malformed), 408 (the body stopped arriving), 413 (limit, quota), 415 (encodings),
    422 (fields); nothing is left in storage then.
    """
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError, KeyError):
        raise MalformedUpload() from None
    received: Received | None = None
    fields: dict[str, list[str]] = {}
    try:
        for _ in range(MAX_PARTS + 1):
            part = await _next_part(request, reader)
            if part is None:
                break
            if part.name == "file" and received is None:
                received = await _store(request, part, storage, key, limit, reservation)
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
    except BaseException:
        if received is not None:
            await run_to_end(discard_blob(storage, key))
        raise
    received.fields = fields
    return received


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


async def _store(
    request: web.Request, part: BodyPartReader, storage: Storage, key: str, limit: int, reservation: Reservation
) -> Received:
    _check_encoding(part)
    digest = hashlib.sha256()
    size = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal size
        while not part.at_eof():
            chunk = await _read_chunk(request, part)
            if not chunk:
                continue
            size += len(chunk)
            if size > limit:
                raise FileTooLarge(limit)
            await reservation.ensure(size)
            digest.update(chunk)
            yield chunk

    stored = await storage.put(key, chunks())
    if stored != size:  # the storage counts too; a mismatch would be a bug worth stopping for
        await run_to_end(discard_blob(storage, key))
        raise RuntimeError(f"stored {stored} bytes of {size}")
    return Received(
        size=size,
        sha256=digest.digest(),
        content_type=clean_content_type(part.headers.get(hdrs.CONTENT_TYPE)),
        filename=client_filename(part),
    )


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
