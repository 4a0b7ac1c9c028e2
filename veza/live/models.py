"""Models of live streams."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from veza.http import Page

# `pattern` puts in the schema what stripping enforces: a blank value is refused.
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=140, pattern=r"\S")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"\S")]


class StreamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: str = Field("", max_length=5000)
    category: str = Field("", max_length=50)
    tags: list[Tag] = Field(default_factory=list, max_length=10)


class StreamUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: str | None = Field(None, max_length=5000)
    category: str | None = Field(None, max_length=50)
    tags: list[Tag] | None = Field(None, max_length=10)


class StreamOut(BaseModel):
    id: UUID
    user_id: UUID
    title: str
    description: str
    category: str
    tags: list[str]
    is_live: bool
    started_at: datetime | None
    ended_at: datetime | None
    viewer_count: int
    created_at: datetime
    updated_at: datetime


class OwnStreamOut(StreamOut):
    stream_key: str


class StreamList(BaseModel):
    streams: list[StreamOut]
    total: int


class OwnStreamList(BaseModel):
    streams: list[OwnStreamOut]
    total: int


class StreamsQuery(Page):
    is_live: bool | None = None


class StreamKeyOut(BaseModel):
    stream_key: str
    rtmp_url: str
    stream_id: UUID


class LiveHealth(BaseModel):
    status: str
    rtmp_url: str


class PublishRedirect(BaseModel):
    """on_publish's answer: Location (and stream_id) is the name nginx publishes the stream under."""

    stream_id: UUID


class RtmpQuery(BaseModel):
    secret: str = Field("", max_length=256, description="RTMP_CALLBACK_SECRET, set in the nginx-rtmp config")


class RtmpForm(BaseModel):
    """What nginx-rtmp posts that the app reads (app, tcUrl, flashVer... are ignored)."""

    name: str = Field("", description="The stream key (on_publish) or the stream's public id (a play name)")
    addr: str = Field("", description="The client's address")
    clientid: str = Field("", description="nginx's id of the client's session")
    call: str = Field("", description="publish, publish_done, update_publish, play, update_play...")
