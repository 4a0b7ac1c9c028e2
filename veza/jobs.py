"""Enqueue background jobs. Call through ``tx.after_commit`` when inside a transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from veza.keys import ARQ


async def enqueue(
    app: web.Application,
    name: str,
    *args: Any,
    job_id: str | None = None,
    defer_by: timedelta | None = None,
) -> None:
    """Queue job ``name``; a job_id already queued or kept as a result is not queued twice."""
    await app[ARQ].enqueue_job(name, *args, _job_id=job_id, _defer_by=defer_by)
