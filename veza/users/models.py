"""Request and response models for users."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

Username = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=30, pattern=r"^[A-Za-z0-9_.-]+$")
]
Email = Annotated[EmailStr, Field(max_length=254)]
Password = Annotated[str, Field(min_length=8, max_length=128)]


class RegisterFields(BaseModel):
    """The fields every new account must have valid, however it is made."""

    model_config = ConfigDict(extra="forbid")

    username: Username
    email: Email
    password: Password


class UserOut(BaseModel):
    id: UUID
    username: str
    email: str


class MeOut(UserOut):
    role: Literal["user", "seller", "admin"]
    created_at: datetime
    updated_at: datetime


class UpdateMeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username | None = None
    email: Email | None = None
    password: Password | None = None
    current_password: str | None = Field(None, max_length=128)


class DeleteAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=128)


class AccountDeleted(BaseModel):
    status: Literal["deleted"]
    erasure: Literal["queued"]  # what the account held is being deleted in the background


class ExportCreated(BaseModel):
    export_id: UUID
    status: Literal["pending", "running"]


class ExportOut(BaseModel):
    id: UUID
    status: Literal["pending", "running", "ready", "failed", "expired"]
    size_bytes: int | None
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    download_url: str | None = Field(description="A presigned link to the ZIP, valid until it expires, while ready")


class ExportList(BaseModel):
    exports: list[ExportOut]
    total: int
