"""Gear jobs: the daily warranty notifier."""

from __future__ import annotations

from datetime import UTC, datetime

from arq import cron

from veza.constants import WARRANTY_CHECK_JOB
from veza.gear.notifier import check_warranties

WARRANTY_CHECK_TIMEOUT = 30 * 60


async def warranty_check(ctx: dict) -> int:
    """Daily: notify owners of warranties ending in 30, 7, 1 or 0 days (each window once)."""
    return await check_warranties(ctx["app"], datetime.now(UTC).date())


# Once a day, in the owners' morning in Europe; unique, so that one worker of many runs it. A second run
# (a retry, a manual `veza warranty-check`) sends nothing twice.
warranty_check_cron = cron(
    warranty_check,
    name=WARRANTY_CHECK_JOB,
    hour={7},
    minute={13},
    unique=True,
    timeout=WARRANTY_CHECK_TIMEOUT,
    max_tries=3,
)
