"""The job lease of `veza worker` (workers/lease.py): renewed while the job runs, so that a second worker does
not take a job that outlives the lease; a job whose worker died is taken again once it runs out."""

from __future__ import annotations

import asyncio

import pytest
from arq import func
from arq.constants import in_progress_key_prefix

from tests.outage import wait_until
from veza.redis import arq_settings, connect_arq
from workers.lease import LeasedWorker

pytestmark = pytest.mark.slow

LEASE = 1.0


def leased_worker(settings, job, **options) -> LeasedWorker:
    return LeasedWorker(
        functions=[func(job, name="long_job", timeout=60)],
        redis_settings=arq_settings(settings),
        handle_signals=False,
        poll_delay=0.05,
        job_lease=LEASE,
        **options,
    )


async def test_a_job_longer_than_the_lease_runs_once_while_another_worker_polls(settings):
    starts: list[str] = []
    finish = asyncio.Event()

    async def long_job(ctx) -> None:
        starts.append(ctx["job_id"])
        await finish.wait()

    pool = connect_arq(settings)
    first, second = leased_worker(settings, long_job), leased_worker(settings, long_job)
    tasks = [asyncio.create_task(first.main())]
    try:
        await pool.enqueue_job("long_job", _job_id="long")
        await wait_until(lambda: starts == ["long"])
        tasks.append(asyncio.create_task(second.main()))
        # Three leases go by: the first worker renews its claim, the second never takes the job.
        for _ in range(3):
            await asyncio.sleep(LEASE)
            assert 0 < await pool.pttl(in_progress_key_prefix + "long") <= LEASE * 1000
        assert starts == ["long"]
        finish.set()
        await wait_until(lambda: first.jobs_complete == 1)
        assert (starts, second.jobs_complete) == (["long"], 0)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await first.close()
        await second.close()
        await pool.aclose()


async def test_a_claim_that_is_not_renewed_lapses_after_the_lease(settings):
    """A worker that dies leaves its claim: it lapses after the lease, and the job runs again."""
    runs: list[int] = []

    async def long_job(ctx) -> None:
        runs.append(ctx["job_try"])

    pool = connect_arq(settings)
    try:
        await pool.enqueue_job("long_job", _job_id="orphaned")
        await pool.psetex(in_progress_key_prefix + "orphaned", int(LEASE * 1000), b"1")  # a dead worker's claim
        worker = leased_worker(settings, long_job, burst=True)
        try:
            await asyncio.wait_for(worker.main(), timeout=10)
        finally:
            await worker.close()
        assert runs == [1]
    finally:
        await pool.aclose()
