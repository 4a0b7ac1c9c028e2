"""Warranty dates: calendar months added to a purchase date, and the badge every item answer carries."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime

EXPIRING_WITHIN_DAYS = 30


def add_months(start: date, months: int) -> date:
    """`start` plus calendar months, clamped to the month's last day: 2024-01-31 + 1 month = 2024-02-29."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def utc_today() -> date:
    return datetime.now(UTC).date()


def warranty_badge(expires_at: date | None, lifetime: bool, today: date) -> dict:
    """`{status, expires_at, days_left}`; the expiry day itself is still covered (0 days left)."""
    if lifetime:
        return {"status": "lifetime", "expires_at": expires_at, "days_left": None}
    if expires_at is None:
        return {"status": "none", "expires_at": None, "days_left": None}
    days_left = (expires_at - today).days
    if days_left < 0:
        status = "expired"
    elif days_left <= EXPIRING_WITHIN_DAYS:
        status = "expiring_soon"
    else:
        status = "active"
    return {"status": status, "expires_at": expires_at, "days_left": days_left}
