"""Jobs of live streaming."""

from __future__ import annotations

from veza.live.service import end_stale_broadcasts as end_stale


async def end_stale_broadcasts(ctx: dict) -> int:
    """End the live streams whose nginx-rtmp stopped sending heartbeats (nginx died without on_publish_done)."""
    return await end_stale(ctx["app"])
