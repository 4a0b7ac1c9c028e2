"""Models of cloud files, their versions and share links."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from veza.http import Page

MAX_TAGS = 20
MAX_FIELD_CHARS = 1024  # an upload's text field (at most 4 KiB of UTF-8)
# `pattern` puts in the schema what stripping enforces: a blank value is refused.
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"\S")]


def _hex(value: object) -> object:
    """sha256 digests are stored as bytea and shown as hex."""
    return value.hex() if isinstance(value, bytes | memoryview) else value


Digest = Annotated[str, BeforeValidator(_hex)]


class FileOut(BaseModel):
    id: UUID
    user_id: UUID
    name: str
    tags: list[str]
    current_version: int
    size_bytes: int
    content_type: str
    sha256: Digest = Field(description="SHA-256 of the current content, hex")
    created_at: datetime
    updated_at: datetime


class FileList(BaseModel):
    files: list[FileOut]
    total: int


class FilesQuery(Page):
    search: str | None = Field(None, max_length=200, description="Part of the file name, case-insensitive")
    tag: Tag | None = Field(None, description="Only files with this tag")


class FileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=255)
    tags: list[Tag] | None = Field(None, max_length=MAX_TAGS)


class UploadFields(BaseModel):
    """The text fields that may come with an upload's `file` part."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None  # made safe (and cut to 255 characters), never refused
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)


class UploadForm(BaseModel):
    """The parts of POST /cloud/files (multipart/form-data), for the document: the route streams them itself."""

    model_config = ConfigDict(extra="forbid")  # another part is a 422

    file: bytes = Field(description="The content; the part's filename and Content-Type are kept")
    name: str = Field("", max_length=MAX_FIELD_CHARS, description="Display name; else the part's filename")
    tags: str = Field(
        "", max_length=MAX_FIELD_CHARS, description="A JSON array of strings or a comma-separated list; may repeat"
    )


class ContentForm(BaseModel):
    """The part of PUT /cloud/files/{id}/content (multipart/form-data)."""

    model_config = ConfigDict(extra="forbid")

    file: bytes = Field(description="The new content; the part's Content-Type is kept")


class DownloadQuery(BaseModel):
    version: int | None = Field(None, ge=1, le=2_147_483_647, description="A past version; the current one if unset")


class VersionOut(BaseModel):
    id: UUID
    file_id: UUID
    version: int
    storage_key: str
    size_bytes: int
    sha256: Digest
    content_type: str
    created_at: datetime


class VersionList(BaseModel):
    versions: list[VersionOut]


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    permissions: Literal["read"] = "read"
    expires_in_hours: int = Field(24, ge=1, le=720)


class ShareOut(BaseModel):
    id: UUID
    file_id: UUID
    permissions: str
    expires_at: datetime
    revoked_at: datetime | None
    download_count: int
    created_at: datetime
    active: bool = Field(description="Neither revoked nor expired")


class NewShareOut(ShareOut):
    share_url: str
    token: str = Field(description="Shown once: only its hash is kept")


class ShareList(BaseModel):
    shares: list[ShareOut]
    total: int


class SharedFileOut(BaseModel):
    """What anyone holding the link may see: no owner, no storage key."""

    name: str
    size_bytes: int
    content_type: str
    tags: list[str]
    permissions: str
    expires_at: datetime
    download_url: str


class DeletedOut(BaseModel):
    deleted: bool


class UsageOut(BaseModel):
    used_bytes: int = Field(description="Bytes of every version kept (a blob shared by versions counts once)")
    quota_bytes: int
    upload_max_bytes: int
    files: int
