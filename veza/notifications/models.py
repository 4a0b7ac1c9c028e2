"""Models of notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from veza.http import Page


class NotificationOut(BaseModel):
    id: UUID
    type: str
    title: str
    body: str
    data: dict[str, Any]
    read_at: datetime | None
    created_at: datetime


class NotificationsQuery(Page):
    unread: bool = False


class NotificationList(BaseModel):
    notifications: list[NotificationOut]
    total: int
    unread_count: int = Field(description="Unread notifications in all, whatever the filter")


class UnreadCount(BaseModel):
    count: int


class ReadAll(BaseModel):
    updated: int
