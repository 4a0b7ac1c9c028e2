"""What the storage routes answer with."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class DownloadLinkOut(BaseModel):
    """A link that downloads one stored file without a token, for a short while."""

    url: str = Field(description="GET it, without a token, before it expires: a presigned S3 URL or a signed link here")
    expires_at: datetime
