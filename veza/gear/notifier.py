"""The warranty notifier: owners hear 30, 7 and 1 days before a warranty ends, and on the day.

Each (item, window) is notified once: the notice row and the notification are
written in one transaction (``INSERT ... ON CONFLICT DO NOTHING``-style, so a
second run, even a concurrent one, finds the window done and sends nothing).

A run that comes late (the job skipped days) finds several windows crossed at
once: it sends one notification, for the most urgent of them, and records the
others as done, so that the owner is not sent three messages about one
warranty on one morning. Warranties that ended up to CATCH_UP_DAYS ago still
get their "ended" notice (a run skipped over the last day); older ones never do.

An edited expiry date keeps the windows already notified (a date corrected by a
few days does not send the 30-day notice again); a date moved more than 30 days
later is a renewed warranty, whose windows notify again (see warranty_queries).
Lifetime warranties are never notified.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from aiohttp import web

from veza.db import Row, transaction
from veza.gear import warranty_queries as queries
from veza.keys import DB
from veza.notifications.service import notify

log = logging.getLogger(__name__)

WINDOWS = (30, 7, 1, 0)  # days before the end
CATCH_UP_DAYS = 7
BATCH = 500

EXPIRING = "gear.warranty_expiring"
EXPIRED = "gear.warranty_expired"


def crossed_windows(days_left: int) -> list[int]:
    """The windows a warranty with `days_left` has reached (all of them once it has ended)."""
    return [window for window in WINDOWS if days_left <= window]


def message(item: Row, days_left: int) -> tuple[str, str, str]:
    """The notification's type, title and body for an item whose warranty ends in `days_left` days."""
    name, ends = item["name"], item["warranty_expires_at"].isoformat()
    if days_left > 1:
        return EXPIRING, f"Warranty ending in {days_left} days", f"The warranty of {name} ends on {ends}."
    if days_left == 1:
        return EXPIRING, "Warranty ending tomorrow", f"The warranty of {name} ends on {ends}."
    if days_left == 0:
        return EXPIRED, "Warranty ends today", f"The warranty of {name} ends today ({ends})."
    return EXPIRED, "Warranty ended", f"The warranty of {name} ended on {ends}."


async def notify_item(app: web.Application, item: Row, today: date) -> bool:
    """Notify the item's owner of the most urgent window not yet notified; False if none is left."""
    days_left = (item["warranty_expires_at"] - today).days
    async with transaction(app[DB]) as tx:
        new = await queries.record_notices(tx, item["id"], item["warranty_expires_at"], crossed_windows(days_left))
        if not new:
            return False
        type_, title, body = message(item, days_left)
        data: dict[str, Any] = {
            "gear_id": str(item["id"]),
            "window_days": new[0],
            "expires_at": item["warranty_expires_at"].isoformat(),
        }
        await notify(app, item["owner_id"], type_, title, body, data, tx=tx)
    return True


async def check_warranties(app: web.Application, today: date) -> int:
    """Send the warranty notices due on `today`; how many notifications were sent."""
    first, last = today - timedelta(days=CATCH_UP_DAYS), today + timedelta(days=max(WINDOWS))
    sent = 0
    after = None
    while True:
        items = await queries.warranties_ending(app[DB], first, last, after=after, limit=BATCH)
        for item in items:
            sent += await notify_item(app, item, today)
        if len(items) < BATCH:
            break
        after = (items[-1]["warranty_expires_at"], items[-1]["id"])
    if sent:
        log.info("warranty notifier: %d notification(s) sent for %s", sent, today)
    return sent
