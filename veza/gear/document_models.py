"""The shapes of a gear item's documents (multipart upload in, rows out)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from veza.http import Page

DocumentType = Literal["invoice", "manual", "warranty", "photo", "receipt", "other"]


class DocumentForm(BaseModel):
    """The parts of POST /inventory/gear/{id}/documents (multipart/form-data), for the document."""

    model_config = ConfigDict(extra="forbid")

    file: bytes = Field(description="The content; the part's filename and Content-Type are kept")
    type: DocumentType = Field(description="What the document is")


class DocumentFields(BaseModel):
    """The upload's text fields, checked once the form has been read."""

    type: DocumentType


class DocumentOut(BaseModel):
    id: UUID
    item_id: UUID
    type: DocumentType
    filename: str
    content_type: str
    size_bytes: int
    created_at: datetime


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total: int


class DocumentsQuery(Page):
    pass


class DocumentDeletedOut(BaseModel):
    deleted: bool
