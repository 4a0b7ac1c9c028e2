"""SQL for the warranty notifier: the warranties near their end, and the notices already sent."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from veza.db import Executor, Row

RENEWAL_DAYS = 30  # a notice about an expiry more than this before the current one was about an older term


async def warranties_ending(
    db: Executor, first: date, last: date, *, after: tuple[date, UUID] | None, limit: int
) -> list[Row]:
    """Items (not lifetime) whose warranty ends between `first` and `last`, by end date, after `after`."""
    after_date, after_id = after or (date.min, UUID(int=0))
    return await db.fetch_all(
        """SELECT id, owner_id, name, warranty_expires_at FROM gear_items
        WHERE NOT lifetime_warranty AND warranty_expires_at BETWEEN %s AND %s
          AND (warranty_expires_at, id) > (%s, %s)
        ORDER BY warranty_expires_at, id LIMIT %s""",
        (first, last, after_date, after_id, limit),
    )


async def record_notices(db: Executor, item_id: UUID, expires_at: date, windows: list[int]) -> list[int]:
    """Record the windows as notified for this expiry; the windows that were not yet (the ones to notify).

    Only while the item still ends on `expires_at` (an edit or a lifetime warranty meanwhile: nothing).
    A window notified for an expiry more than RENEWAL_DAYS earlier belongs to a past term: it is armed
    again. The row locks make a second run at the same time wait and then find every window done.
    """
    rows = await db.fetch_all(
        """INSERT INTO gear_warranty_notices (item_id, window_days, expires_at)
        SELECT i.id, w.days, i.warranty_expires_at FROM gear_items i, unnest(%s::integer[]) AS w (days)
        WHERE i.id = %s AND NOT i.lifetime_warranty AND i.warranty_expires_at = %s
        ON CONFLICT (item_id, window_days) DO UPDATE SET expires_at = EXCLUDED.expires_at, notified_at = now()
        WHERE gear_warranty_notices.expires_at < EXCLUDED.expires_at - %s
        RETURNING window_days""",
        (windows, item_id, expires_at, RENEWAL_DAYS),
    )
    return sorted(row["window_days"] for row in rows)
