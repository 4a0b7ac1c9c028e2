"""Objects in an S3 bucket (or an S3-compatible service) over aiobotocore."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime
from typing import Any, Self

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.handlers import add_expect_header

from veza.storage.base import (
    CHUNK_SIZE,
    Blob,
    ObjectNotFound,
    RangeNotSatisfiable,
    StoredObject,
    check_expires,
    check_key,
    check_prefix,
    check_range,
    content_disposition,
    range_header,
    resolve_range,
)

log = logging.getLogger(__name__)

PART_SIZE = 8 * 1024 * 1024
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_MISSING = {"404", "NoSuchKey", "NotFound"}
_OVERLOADED = {"SlowDown", "ServiceUnavailable", "503"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def s3_unreachable(exc: BaseException) -> bool:
    """Whether `exc` means S3 is unreachable, too slow, or refusing work for now (after retries)."""
    if isinstance(exc, BotocoreConnectionError | HTTPClientError):  # connect/read timeouts, refused, reset
        return True
    return isinstance(exc, ClientError) and _code(exc) in _OVERLOADED


class S3Storage:
    """Use as ``async with S3Storage(...) as storage``: one client for the storage's life."""

    scan_batch = 1000  # keys per listing request (S3's maximum)

    def __init__(
        self,
        bucket: str,
        *,
        region: str,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session: AioSession | None = None,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        max_attempts: int = 2,
    ) -> None:
        self.bucket = bucket
        self._session = session or AioSession()
        self._region = region
        self._endpoint_url = endpoint_url
        self._credentials = {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_access_key}
        self._timeouts = {
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "retries": {"max_attempts": max_attempts, "mode": "standard"},
        }
        self._stack = contextlib.AsyncExitStack()
        self.client: Any = None

    async def __aenter__(self) -> Self:
        config = AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path"} if self._endpoint_url else None,
            **self._timeouts,
        )
        client = self._session.create_client(
            "s3", region_name=self._region, endpoint_url=self._endpoint_url, config=config, **self._credentials
        )
        self.client = await self._stack.enter_async_context(client)
        # botocore sends uploads with `Expect: 100-continue`; aiohttp then waits for the server's
        # go-ahead before the body with no read timeout armed, so a frozen S3 would hang an upload.
        self.client.meta.events.unregister("before-call.s3", add_expect_header)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()
        self.client = None

    async def ensure_bucket(self) -> None:
        """Create the bucket if it is missing: for S3-compatible services in development and tests."""
        try:
            await self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if _code(exc) not in _MISSING | {"NoSuchBucket"}:
                raise
        location = {"LocationConstraint": self._region}
        extra = {} if self._region == "us-east-1" else {"CreateBucketConfiguration": location}
        with contextlib.suppress(self.client.exceptions.BucketAlreadyOwnedByYou):
            await self.client.create_bucket(Bucket=self.bucket, **extra)

    async def put(self, key: str, stream: AsyncIterable[bytes], content_type: str | None = None) -> int:
        check_key(key)
        typed = {"ContentType": content_type} if content_type else {}
        part = io.BytesIO()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        total = 0
        try:
            async for chunk in stream:
                view = memoryview(chunk)
                total += len(view)
                while view:
                    room = PART_SIZE - part.tell()
                    part.write(view[:room])
                    view = view[room:]
                    if part.tell() == PART_SIZE:
                        if upload_id is None:
                            created = await self.client.create_multipart_upload(Bucket=self.bucket, Key=key, **typed)
                            upload_id = created["UploadId"]
                        parts.append(await self._upload_part(key, upload_id, len(parts) + 1, part))
                        part = io.BytesIO()
            if upload_id is None:
                part.seek(0)
                await self.client.put_object(Bucket=self.bucket, Key=key, Body=part, **typed)
                return total
            if part.tell():
                parts.append(await self._upload_part(key, upload_id, len(parts) + 1, part))
            await self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            if upload_id is not None:
                await asyncio.shield(self._abort(key, upload_id))
            raise
        return total

    async def _upload_part(self, key: str, upload_id: str, number: int, part: io.BytesIO) -> dict[str, Any]:
        part.seek(0)
        answer = await self.client.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=part
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    async def _abort(self, key: str, upload_id: str) -> None:
        try:
            await self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except Exception as exc:
            if not s3_unreachable(exc):
                log.exception("could not abort multipart upload %s of %s", upload_id, key)
                return
            # The outage that failed the put: one line, no traceback; the storage sweep aborts it later.
            log.warning(
                "could not abort multipart upload %s of %s (%s): S3 unavailable", upload_id, key, type(exc).__name__
            )

    async def abort_stale_uploads(self, prefix: str, before: datetime) -> int:
        """Abort the multipart uploads under `prefix` begun before `before`: their parts are stored (and
        billed) but are no object, so `scan` never sees them."""
        aborted = 0
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=check_prefix(prefix)
        )
        async for page in pages:
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < before:
                    with contextlib.suppress(self.client.exceptions.NoSuchUpload):
                        await self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                    aborted += 1
        return aborted

    @contextlib.asynccontextmanager
    async def open(self, key: str, start: int | None = None, end: int | None = None) -> AsyncIterator[Blob]:
        check_key(key)
        check_range(start, end)
        ranged = start is not None or end is not None
        params = {"Bucket": self.bucket, "Key": key} | ({"Range": range_header(start, end)} if ranged else {})
        try:
            answer = await self.client.get_object(**params)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise ObjectNotFound() from None
            if _code(exc) == "InvalidRange":
                raise RangeNotSatisfiable(await self.size(key)) from None
            raise
        body = answer["Body"]
        chunks = None
        try:
            match = _CONTENT_RANGE.fullmatch(answer.get("ContentRange", ""))
            if match:
                first, last, size = map(int, match.groups())
            else:
                size = answer["ContentLength"]
                first, last = resolve_range(size, start, end)
            chunks = body.iter_chunks(CHUNK_SIZE)
            yield Blob(size, first, last, chunks, answer.get("ContentType"))
        finally:
            body.close()
            if chunks is not None:
                await chunks.aclose()

    async def size(self, key: str) -> int:
        check_key(key)
        try:
            answer = await self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise ObjectNotFound() from None
            raise
        return answer["ContentLength"]

    async def exists(self, key: str) -> bool:
        try:
            await self.size(key)
        except ObjectNotFound:
            return False
        return True

    async def delete(self, key: str) -> None:
        check_key(key)
        await self.client.delete_object(Bucket=self.bucket, Key=key)

    async def scan(self, prefix: str) -> AsyncIterator[StoredObject]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=check_prefix(prefix), PaginationConfig={"PageSize": self.scan_batch}
        )
        async for page in pages:
            for item in page.get("Contents", []):
                yield StoredObject(item["Key"], item["LastModified"], item["Size"])

    async def presign(
        self, key: str, expires: int, filename: str | None = None, content_type: str | None = None
    ) -> str:
        check_key(key)
        check_expires(expires)
        params = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        if content_type:  # objects stored without one would be served as binary/octet-stream
            params["ResponseContentType"] = content_type
        return await self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)

    async def check(self) -> dict[str, Any]:
        await self.client.head_bucket(Bucket=self.bucket)
        return {"backend": "s3", "bucket": self.bucket}
