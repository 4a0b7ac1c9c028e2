"""Jobs that keep the worker itself observable."""

from __future__ import annotations

import time

from veza.constants import WORKER_HEARTBEAT_KEY
from veza.keys import REDIS


async def worker_heartbeat(ctx: dict) -> float:
    """Record that a worker is alive; /health/deep reports how long ago this ran."""
    now = time.time()
    await ctx["app"][REDIS].set(WORKER_HEARTBEAT_KEY, now, ex=24 * 3600)
    return now
