"""Files under a folder, served through HMAC-signed links checked by the app."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import os
import re
import stat
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode

from veza.constants import API_PREFIX
from veza.storage.base import (
    CHUNK_SIZE,
    Blob,
    InvalidKey,
    ObjectNotFound,
    StoredObject,
    check_expires,
    check_key,
    check_prefix,
    check_range,
    resolve_range,
)

LINK_PATH = f"{API_PREFIX}/storage/local/"
_EXPIRES = re.compile(r"[0-9]{1,12}")


def _finish(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())
    file.close()


def _read_at(file: BinaryIO, offset: int, size: int) -> bytes:
    file.seek(offset)
    return file.read(size)


def _walk(folder: str, base: str) -> Iterator[StoredObject]:
    """The files under `folder`, keyed from `base`, one directory open per level (memory stays flat).

    Hidden names are not objects (a put in progress writes ``.<name>.*.part``), nor are symlinks.
    """
    try:
        entries = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    with entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            key = base + entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    yield from _walk(entry.path, key + "/")
                elif entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    yield StoredObject(key, datetime.fromtimestamp(info.st_mtime, UTC), info.st_size)
            except FileNotFoundError:  # deleted while we looked
                continue


def _valid(key: str) -> bool:
    try:
        check_key(key)
    except InvalidKey:
        return False
    return True


def _take(objects: Iterator[StoredObject], count: int) -> list[StoredObject]:
    return list(itertools.islice(objects, count))


def _probe(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=root) as file:
        file.write(b"ok")


class LocalStorage:
    scan_batch = 1000  # objects read per trip to a thread

    def __init__(self, root: Path, signing_secret: str, public_url: str) -> None:
        self.root = Path(root).resolve()
        self._secret = signing_secret.encode()
        self._public_url = public_url.rstrip("/")

    def path(self, key: str) -> Path:
        path = self.root / check_key(key)
        if not Path(os.path.realpath(path)).is_relative_to(self.root):
            raise InvalidKey(f"storage key escapes the storage folder: {key!r}")
        return path

    async def put(self, key: str, stream: AsyncIterable[bytes], content_type: str | None = None) -> int:
        path = self.path(key)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        fd, temp = await asyncio.to_thread(tempfile.mkstemp, dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        file = os.fdopen(fd, "wb")
        total = 0
        try:
            buffer = bytearray()
            async for chunk in stream:
                buffer += chunk
                total += len(chunk)
                if len(buffer) >= CHUNK_SIZE:
                    await asyncio.to_thread(file.write, buffer)
                    buffer = bytearray()
            if buffer:
                await asyncio.to_thread(file.write, buffer)
            await asyncio.to_thread(_finish, file)
            await asyncio.to_thread(os.replace, temp, path)
        except BaseException:
            file.close()
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        return total

    @contextlib.asynccontextmanager
    async def open(self, key: str, start: int | None = None, end: int | None = None) -> AsyncIterator[Blob]:
        check_range(start, end)
        path = self.path(key)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound() from None
        chunks = None
        try:
            size = os.fstat(file.fileno()).st_size
            first, last = resolve_range(size, start, end)
            chunks = self._chunks(file, first, last - first + 1)
            yield Blob(size, first, last, chunks)
        finally:
            file.close()
            if chunks is not None:
                await chunks.aclose()

    @staticmethod
    async def _chunks(file: BinaryIO, offset: int, remaining: int) -> AsyncIterator[bytes]:
        while remaining > 0:
            data = await asyncio.to_thread(_read_at, file, offset, min(CHUNK_SIZE, remaining))
            if not data:
                return
            offset += len(data)
            remaining -= len(data)
            yield data

    async def size(self, key: str) -> int:
        path = self.path(key)
        try:
            info = await asyncio.to_thread(path.stat)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound() from None
        if not stat.S_ISREG(info.st_mode):
            raise ObjectNotFound()
        return info.st_size

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path(key).is_file)

    async def delete(self, key: str) -> None:
        path = self.path(key)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
            await asyncio.to_thread(path.unlink)

    async def abort_stale_uploads(self, prefix: str, before: datetime) -> int:
        """Nothing to do: a put writes a temporary file that it removes if it fails."""
        return 0

    async def scan(self, prefix: str) -> AsyncIterator[StoredObject]:
        folder = check_prefix(prefix).rpartition("/")[0]
        objects = _walk(str(self.root / folder) if folder else str(self.root), f"{folder}/" if folder else "")
        try:
            while batch := await asyncio.to_thread(_take, objects, self.scan_batch):
                for item in batch:
                    if item.key.startswith(prefix) and _valid(item.key):
                        yield item
        finally:
            with contextlib.suppress(ValueError):  # still running in its thread if we were cancelled
                objects.close()

    async def presign(
        self, key: str, expires: int, filename: str | None = None, content_type: str | None = None
    ) -> str:
        # A signed local link serves application/octet-stream: the app streams typed answers itself.
        check_key(key)
        check_expires(expires)
        expiry = str(int(time.time()) + expires)
        query = {"expires": expiry}
        if filename:
            query["filename"] = filename
        query["signature"] = self.sign(key, expiry, filename or "")
        return f"{self._public_url}{LINK_PATH}{quote(key, safe='/')}?{urlencode(query, quote_via=quote)}"

    def sign(self, key: str, expiry: str, filename: str) -> str:
        message = f"veza-storage-link\n{key}\n{expiry}\n{filename}".encode("utf-8", "surrogatepass")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def verify(self, key: str, expiry: str, filename: str, signature: str) -> bool:
        """Whether a link's parts were signed by us and have not expired."""
        if not _EXPIRES.fullmatch(expiry) or int(expiry) < time.time():
            return False
        try:
            check_key(key)
        except InvalidKey:
            return False
        return hmac.compare_digest(self.sign(key, expiry, filename).encode(), signature.encode("utf-8", "replace"))

    async def check(self) -> dict[str, Any]:
        await asyncio.to_thread(_probe, self.root)
        return {"backend": "local"}
