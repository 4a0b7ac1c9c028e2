"""Jobs that keep storage and the database in step."""

from __future__ import annotations

from typing import Any

from arq import cron

from veza.constants import RECONCILE_STORAGE_JOB
from veza.storage.reconcile import reconcile

RECONCILE_TIMEOUT = 3 * 3600  # a listing of millions of objects takes a while; a day has room


async def reconcile_storage(ctx: dict) -> dict[str, Any]:
    """Daily: delete blobs that no row names once past the grace period; report rows missing their blob."""
    return (await reconcile(ctx["app"])).summary()


# Daily, at a quiet hour; unique, so that one worker of many runs each day's pass. (A cron job is
# also a function of the worker under its name: `enqueue(app, RECONCILE_STORAGE_JOB)` runs it now.)
reconcile_storage_cron = cron(
    reconcile_storage,
    name=RECONCILE_STORAGE_JOB,
    hour={3},
    minute={41},
    unique=True,
    timeout=RECONCILE_TIMEOUT,
    max_tries=2,
)
