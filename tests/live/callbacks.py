"""nginx-rtmp's callbacks as the app receives them, without nginx (tests/live/rtmp.py runs the real one)."""

from __future__ import annotations

from typing import Any

from tests.factories import run_burst_worker
from veza.constants import END_STALE_BROADCASTS_JOB
from veza.keys import ARQ

SECRET = "rtmp-callback-secret-for-tests"


async def callback(client, event: str, name: str, secret: str = SECRET, **fields: str):
    """A callback as nginx-rtmp sends it (`clientid`, `addr`, `call` name the session and the event)."""
    data = {"app": "live", "name": name, **fields}
    return await client.post(f"/api/v1/live/rtmp/{event}?secret={secret}", data=data, allow_redirects=False)


async def key_of(client, user: dict[str, Any]) -> dict[str, Any]:
    resp = await client.get("/api/v1/live/streams/me/key", headers=user["headers"])
    assert resp.status == 200
    return (await resp.json())["data"]


async def sweep(client, settings, job_id: str) -> None:
    """Run the stale-stream sweep job (by its name, as the cron queues it) in a burst worker."""
    assert await client.app[ARQ].enqueue_job(END_STALE_BROADCASTS_JOB, _job_id=job_id) is not None
    worker = await run_burst_worker(settings)
    assert worker.jobs_failed == 0
