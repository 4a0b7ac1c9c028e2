"""Jobs of live streaming."""

from __future__ import annotations

from arq import cron

from veza.constants import END_STALE_BROADCASTS_JOB
from veza.live.service import end_stale_broadcasts as end_stale


async def end_stale_broadcasts(ctx: dict) -> int:
    """End the live streams whose nginx-rtmp stopped sending heartbeats (nginx died without on_publish_done)."""
    return await end_stale(ctx["app"])


# Twice a minute; unique, so that one worker of many sweeps. Like every cron job, it is also a
# function of the worker under its name: `enqueue_job(END_STALE_BROADCASTS_JOB)` sweeps now.
end_stale_broadcasts_cron = cron(
    end_stale_broadcasts,
    name=END_STALE_BROADCASTS_JOB,
    second={0, 30},
    unique=True,
    timeout=30,
    max_tries=3,
)
