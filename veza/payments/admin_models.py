"""Models of the admin transfer routes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from veza.http import Page
from veza.payments.models import TransferOut, TransferStatus


def _moment(value: Any) -> Any:
    """A date alone (YYYY-MM-DD) is a date; any other text an ISO 8601 date-time, in UTC.

    ISO 8601 allows offsets up to 23:59, PostgreSQL only up to 15:59: a time is sent to it in UTC.
    One that falls before year 1 or after 9999 in UTC is a bound nothing lies beyond: the first or
    the last instant there is.
    """
    if not isinstance(value, str):
        return value
    try:
        moment = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 date (2026-02-24) or date-time (2026-02-24T10:00:00Z)") from None
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


class AdminTransfersQuery(Page):
    model_config = ConfigDict(populate_by_name=True)

    status: TransferStatus | None = None
    seller_id: UUID | None = None
    from_: datetime | date | None = Field(
        None, alias="from", description="Created at or after (a date-time, or a date: from its start, UTC)"
    )
    to: datetime | date | None = Field(
        None, description="Created before (a date-time), or on or before (a date: to its end, UTC)"
    )

    _dates = field_validator("from_", "to", mode="before")(_moment)

    @model_validator(mode="after")
    def ordered(self) -> AdminTransfersQuery:
        if self.created_from and self.created_before and self.created_from >= self.created_before:
            raise ValueError("`from` must be before `to`")
        return self

    @property
    def created_from(self) -> datetime | None:
        return _instant(self.from_)

    @property
    def created_before(self) -> datetime | None:
        """The exclusive end: a date `to` includes its whole day."""
        if self.to is not None and not isinstance(self.to, datetime):
            return None if self.to == date.max else _instant(self.to + timedelta(days=1))
        return _instant(self.to)


def _instant(value: datetime | date | None) -> datetime | None:
    """A date-time in UTC (one without a time zone is taken as UTC); a date is its midnight, UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(), UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class AdminTransferOut(TransferOut):
    last_error: str | None = Field(description="Why the last try failed, as the payout gateway said; null once sent")


class AdminTransferList(BaseModel):
    transfers: list[AdminTransferOut]
    total: int


class RetriedTransfer(BaseModel):
    id: UUID
    status: TransferStatus
    retry_count: int
