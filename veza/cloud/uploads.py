"""Storing an upload: a stream of bytes goes to storage chunk by chunk, counted and hashed.

Nothing is buffered whole. The upload limit is enforced while streaming, the
quota through a ``Reservation`` that grows with the bytes. The source may be
a request's multipart part (``cloud/multipart.py``) or any async iterator of
bytes (a worker's, via ``ByteSource``). A put that fails leaves no blob; the
service removes a stored blob whose upload fails afterwards.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from veza.cloud.names import clean_content_type
from veza.cloud.quota import Reservation, format_bytes
from veza.errors import PayloadTooLarge
from veza.storage import Storage

log = logging.getLogger(__name__)


class FileTooLarge(PayloadTooLarge):
    code = "file_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The file is larger than the upload limit of {format_bytes(limit)}",
            details=[{"field": "file", "message": f"at most {limit} bytes"}],
        )


@dataclass
class Received:
    """The file, now stored under its key."""

    size: int
    sha256: bytes
    content_type: str
    filename: str | None


# Stores the file: its chunks, the client's filename, its content type.
Store = Callable[[AsyncIterator[bytes], "str | None", "str | None"], Awaitable[Received]]


class Source(Protocol):
    """Where an upload comes from: a request's multipart body, or plain values (``ByteSource``)."""

    framing: int  # bytes `max_size` may count beyond the file's own

    def max_size(self, limit: int) -> int | None:
        """The most bytes the file can have, if known; may refuse (413, 415) before a byte is read."""

    async def read(self, store: Store) -> tuple[Received, dict[str, Any]]:
        """Hand the file to `store`; return what it stored and the upload's other fields (`name`, `tags`)."""


@dataclass
class ByteSource:
    """An upload as plain values, for callers without a request (a worker, a script)."""

    chunks: AsyncIterator[bytes]
    filename: str | None = None
    content_type: str | None = None
    name: str | None = None
    tags: Iterable[str] = field(default_factory=tuple)
    size: int | None = None  # when known: refused at once if over the limit, reserved up front
    framing = 0

    def max_size(self, limit: int) -> int | None:
        if self.size is not None and self.size > limit:
            raise FileTooLarge(limit)
        return self.size

    async def read(self, store: Store) -> tuple[Received, dict[str, Any]]:
        received = await store(self.chunks, self.filename, self.content_type)
        return received, {"name": self.name, "tags": list(self.tags)}


async def store(
    storage: Storage,
    key: str,
    chunks: AsyncIterator[bytes],
    *,
    limit: int,
    reservation: Reservation,
    content_type: str | None,
    filename: str | None,
) -> Received:
    """Stream `chunks` to `key`, refusing past `limit` bytes (413) or past the quota `reservation` can hold."""
    digest = hashlib.sha256()
    size = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal size
        async for chunk in chunks:
            if not chunk:
                continue
            size += len(chunk)
            if size > limit:
                raise FileTooLarge(limit)
            await reservation.ensure(size)
            digest.update(chunk)
            yield chunk

    stored = await storage.put(key, counted(), content_type=clean_content_type(content_type))
    if stored != size:  # the storage counts too; a mismatch would be a bug worth stopping for
        await discard_blob(storage, key)
        raise RuntimeError(f"stored {stored} bytes of {size}")
    return Received(size=size, sha256=digest.digest(), content_type=clean_content_type(content_type), filename=filename)


async def discard_blob(storage: Storage, key: str) -> None:
    try:
        await storage.delete(key)
    except Exception:
        log.exception("could not delete the blob %s of a failed upload", key)
