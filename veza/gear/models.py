"""Models of gear items, their warranty badge, and repairs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt

from veza.http import Page

MAX_TAGS = 20
EARLIEST = date(1900, 1, 1)
LATEST = date(2200, 12, 31)


def _iso_text(value: object) -> object:
    """A date comes as ISO text (`2024-02-29`); numbers are not dates here."""
    if not isinstance(value, str | date):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


def _in_range(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must be between {EARLIEST} and {LATEST}")
    return value


GearDate = Annotated[date, BeforeValidator(_iso_text), AfterValidator(_in_range)]
Cents = Annotated[StrictInt, Field(ge=0, le=10**13, description="Integer cents")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
Tag = Annotated[str, Field(min_length=1, max_length=50, pattern=r"\S")]
WarrantyStatus = Literal["active", "expiring_soon", "expired", "lifetime", "none"]


class GearIn(BaseModel):
    """A new item. The warranty is an expiry date or a number of months from the purchase date."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    brand: str = Field("", max_length=100)
    model: str = Field("", max_length=100)
    category: str = Field("other", min_length=1, max_length=50)
    serial_number: str = Field("", max_length=100)
    purchase_date: GearDate | None = None
    price_cents: Cents | None = None
    currency: Currency = "EUR"
    purchased_from: str = Field("", max_length=200)
    notes: str = Field("", max_length=5000)
    tags: list[Tag] = Field([], max_length=MAX_TAGS)
    warranty_expires_at: GearDate | None = None
    warranty_months: StrictInt | None = Field(
        None, ge=1, le=1200, description="Months from the purchase date (calendar months); instead of an expiry date"
    )
    lifetime_warranty: StrictBool = False


class GearUpdate(BaseModel):
    """Changes to an item; the merged item is checked as a whole (an expiry before the purchase is refused)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=200)
    brand: str | None = Field(None, max_length=100)
    model: str | None = Field(None, max_length=100)
    category: str | None = Field(None, min_length=1, max_length=50)
    serial_number: str | None = Field(None, max_length=100)
    purchase_date: GearDate | None = None
    price_cents: Cents | None = None
    currency: Currency | None = None
    purchased_from: str | None = Field(None, max_length=200)
    notes: str | None = Field(None, max_length=5000)
    tags: list[Tag] | None = Field(None, max_length=MAX_TAGS)
    warranty_expires_at: GearDate | None = None
    warranty_months: StrictInt | None = Field(None, ge=1, le=1200)
    lifetime_warranty: StrictBool | None = None


class WarrantyOut(BaseModel):
    status: WarrantyStatus
    expires_at: date | None
    days_left: int | None = Field(description="Days until the expiry date (0 on the day itself, negative after)")


class GearOut(BaseModel):
    id: UUID
    owner_id: UUID
    name: str
    brand: str
    model: str
    category: str
    serial_number: str
    purchase_date: date | None
    price_cents: int | None
    currency: str
    purchased_from: str
    notes: str
    tags: list[str]
    warranty_expires_at: date | None
    lifetime_warranty: bool
    warranty: WarrantyOut
    repair_total_cents: dict[str, int] = Field(description="The repairs' costs summed per currency")
    created_at: datetime
    updated_at: datetime


class GearList(BaseModel):
    items: list[GearOut]
    total: int


class GearQuery(Page):
    search: str | None = Field(
        None, max_length=200, description="Part of the name, brand, model, serial number or notes, case-insensitive"
    )
    category: str | None = Field(None, min_length=1, max_length=50)
    warranty: Literal["active", "expiring", "expired", "none"] | None = Field(
        None,
        description="active: still covered (lifetime or not yet expired, expiring ones included); "
        "expiring: ends within 30 days; expired; none: no warranty",
    )


class RepairIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    repair_date: GearDate
    description: str = Field(min_length=1, max_length=2000)
    cost_cents: Cents = 0
    currency: Currency = "EUR"
    provider: str = Field("", max_length=200)


class RepairOut(BaseModel):
    id: UUID
    item_id: UUID
    repair_date: date
    description: str
    cost_cents: int
    currency: str
    provider: str
    created_at: datetime


class RepairList(BaseModel):
    repairs: list[RepairOut]
    total: int


class DeletedOut(BaseModel):
    deleted: bool
