"""Each user's storage quota, held by uploads while their bytes arrive.

An upload reserves quota ahead of its bytes (its whole Content-Length when
it declares one, else a step at a time), under a lock on the user's usage
row: two uploads at once cannot together pass the quota.
On success the reservation turns into committed bytes in the same
transaction as the version row; on failure it is dropped. A reservation
expires a while after its last step, so an upload cut short by a crash frees
its share by itself.
"""

from __future__ import annotations

import logging
import math
import time
from uuid import UUID, uuid4

from veza.cloud import queries
from veza.db import Database, Executor, transaction
from veza.errors import PayloadTooLarge

log = logging.getLogger(__name__)

MiB = 1024 * 1024
RESERVE_STEP = 32 * MiB
RESERVATION_TTL = 15 * 60  # seconds after the last step
REFRESH_EVERY = RESERVATION_TTL / 3


def format_bytes(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class QuotaExceeded(PayloadTooLarge):
    code = "quota_exceeded"

    def __init__(self, quota: int, used: int) -> None:
        super().__init__(
            f"Not enough storage left: your quota is {format_bytes(quota)} and {format_bytes(used)} is in use",
            details=[{"field": "file", "message": "the file does not fit in the storage left"}],
        )


class Reservation:
    """The quota one upload holds. ``ensure(n)`` before accepting the n-th byte; ``release()`` always."""

    def __init__(self, db: Database, user_id: UUID, quota: int, ceiling: float = math.inf) -> None:
        self.db = db
        self.user_id = user_id
        self.quota = quota
        self.ceiling = ceiling  # the most this upload can need (upload limit, Content-Length)
        self.id = uuid4()
        self.reserved = 0
        self._refreshed_at = -math.inf

    async def ensure(self, needed: int) -> None:
        """Hold at least `needed` bytes (a step more when there is room); QuotaExceeded if they do not fit."""
        fresh = time.monotonic() - self._refreshed_at < REFRESH_EVERY
        if needed <= self.reserved and fresh:
            return
        target = (
            self.reserved if needed <= self.reserved else max(needed, min(self.reserved + RESERVE_STEP, self.ceiling))
        )
        async with transaction(self.db) as tx:
            used = await queries.lock_usage(tx, self.user_id)
            free = self.quota - used - await queries.reserved_by_others(tx, self.user_id, self.id)
            if needed > free:
                raise QuotaExceeded(self.quota, self.quota - free)
            # Ahead of the bytes by at most half the room left, so that uploads side by side leave each
            # other room (an upload without Content-Length could otherwise hold the whole quota).
            amount = int(min(target, needed + (free - needed) // 2))
            await queries.set_reservation(tx, self.id, self.user_id, amount, RESERVATION_TTL)
        self.reserved = amount
        self._refreshed_at = time.monotonic()

    async def commit(self, tx: Executor, size: int) -> None:
        """In the transaction that records the upload: its bytes become used, the reservation goes."""
        used = await queries.lock_usage(tx, self.user_id)
        others = await queries.reserved_by_others(tx, self.user_id, self.id)
        if used + others + size > self.quota:  # only if this reservation expired and others took the room
            raise QuotaExceeded(self.quota, used + others)
        await queries.add_used(tx, self.user_id, size)
        await queries.drop_reservation(tx, self.id)

    async def release(self) -> None:
        """Drop the reservation (nothing happens if the commit already did); a failure only waits for expiry."""
        try:
            await queries.drop_reservation(self.db, self.id)
        except Exception:
            log.exception("could not drop upload reservation %s; it expires by itself", self.id)
