"""What every storage backend shares: the protocol, keys, byte ranges, errors."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

from veza.errors import ApiError, NotFound

CHUNK_SIZE = 1024 * 1024
MAX_KEY_BYTES = 1024
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live


class InvalidKey(ValueError):
    """A key that could name something outside the storage; keys are generated, so this is a bug."""


class ObjectNotFound(NotFound):
    message = "File not found"


class RangeNotSatisfiable(ApiError):
    status, code, message = 416, "range_not_satisfiable", "Requested range not satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__(headers={"Content-Range": f"bytes */{size}"})
        self.size = size


@dataclass
class Blob:
    """An opened object, or the byte range of it that was asked for; iterate it for the bytes."""

    size: int
    start: int
    end: int
    chunks: AsyncIterator[bytes]
    content_type: str | None = None  # as stored, when the backend keeps one

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.chunks


@dataclass(frozen=True)
class StoredObject:
    """One object as a listing sees it."""

    key: str
    modified: datetime  # when its bytes were last written (UTC)
    size: int


class Storage(Protocol):
    async def put(self, key: str, stream: AsyncIterable[bytes], content_type: str | None = None) -> int:
        """Store the stream's bytes under key, replacing what was there; return the size.

        The content type is kept where the backend can (S3 serves it back); the app's rows keep it too.

        A put that fails leaves the previous object (or none) in place, never a partial one.
        """

    def open(self, key: str, start: int | None = None, end: int | None = None) -> AbstractAsyncContextManager[Blob]:
        """``async with storage.open(key) as blob``: the object, or the bytes ``start..end``.

        The range reads as HTTP's: ``(a, b)`` inclusive, ``(a, None)`` from a to the end,
        ``(None, n)`` the last n bytes. Raises ObjectNotFound or RangeNotSatisfiable.
        """

    async def size(self, key: str) -> int:
        """The object's size in bytes; raises ObjectNotFound."""

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove the object; removing a missing one is not an error."""

    async def presign(
        self, key: str, expires: int, filename: str | None = None, content_type: str | None = None
    ) -> str:
        """A URL that GETs the object without authentication for ``expires`` seconds.

        With a filename, the download is an attachment under that name; with a content type, it is served as that.
        """

    def scan(self, prefix: str) -> AsyncIterator[StoredObject]:
        """Every object whose key starts with `prefix`, in no promised order, streamed: memory does
        not grow with the number of objects. Objects written or deleted during a scan may or may not
        be seen.
        """

    async def abort_stale_uploads(self, prefix: str, before: datetime) -> int:
        """Give up the unfinished uploads under `prefix` begun before `before` (what a put cut short by an
        outage or a crash left behind, out of `scan`'s sight); how many."""

    async def check(self) -> dict[str, Any]:
        """Raise if the storage cannot be used; the details of /health/deep otherwise."""


def check_key(key: str) -> str:
    try:
        too_long = len(key.encode()) > MAX_KEY_BYTES
    except UnicodeEncodeError:
        too_long = True
    if (
        too_long
        or not key
        or "\\" in key
        or ".." in key
        or any(ord(char) < 32 or ord(char) == 127 for char in key)
        or any(not part or part.startswith(".") for part in key.split("/"))
    ):
        raise InvalidKey(f"invalid storage key: {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: empty, or the start of a valid key (``cloud/``, ``cloud/<user>``)."""
    if prefix:
        check_key(prefix + "x")  # what may follow a prefix is any valid key's remainder
    return prefix


def check_range(start: int | None, end: int | None) -> None:
    if (start is not None and start < 0) or (end is not None and end < 0):
        raise ValueError("a byte range cannot be negative")
    if start is not None and end is not None and end < start:
        raise ValueError("a byte range cannot end before it starts")


def check_expires(expires: int) -> None:
    if not 1 <= expires <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"expires must be between 1 and {MAX_PRESIGN_SECONDS} seconds")


def resolve_range(size: int, start: int | None, end: int | None) -> tuple[int, int]:
    """The inclusive (first, last) byte positions a range selects in an object of this size."""
    if start is None and end is None:
        return 0, size - 1
    if start is None:
        assert end is not None
        if end == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - end), size - 1
    if start >= size:
        raise RangeNotSatisfiable(size)
    return start, size - 1 if end is None else min(end, size - 1)


def range_header(start: int | None, end: int | None) -> str:
    return f"bytes={'' if start is None else start}-{'' if end is None else end}"


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name in RFC 5987's ``filename*``."""
    fallback = "".join(char if 32 <= ord(char) < 127 and char not in '"\\/' else "_" for char in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
