"""A worker whose claim on a running job is a lease it renews, so that a killed worker's jobs run again soon.

arq marks a job it starts "in progress" for the longest job timeout of all functions plus 10 s (here the
warranty check's 30 minutes), and no worker starts the job while the mark stands. A worker killed
mid-job (SIGKILL, out of memory, a lost host) leaves the mark behind: its jobs would wait half an hour.
Here the mark lasts WORKER_JOB_LEASE seconds and the worker renews it for the jobs it still runs every
third of that; a dead worker stops renewing and its jobs are run again (by a
restarted worker or another one) once the lease runs out. Every job is safe to run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from arq.constants import in_progress_key_prefix
from arq.worker import Worker
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class LeasedWorker(Worker):
    def __init__(self, *args, job_lease: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.job_lease = job_lease
        self.in_progress_timeout_s = job_lease  # the mark start_jobs sets

    async def main(self) -> None:
        # Its own task, not the polling loop: that loop waits for a free slot when max_jobs run.
        renewer = asyncio.create_task(self._renew_forever())
        try:
            await super().main()
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.job_lease / 3)
            try:
                await self.renew_leases()
            except (RedisError, OSError) as exc:  # Redis away: the polling loop notices and reconnects
                log.debug("worker: could not renew job leases (%s)", exc)

    async def renew_leases(self) -> None:
        """Extend the mark of every job this worker still runs (a finished job's mark stays as arq left
        it: deleted, or kept a while for a cron job)."""
        running = [job_id for job_id, task in self.tasks.items() if not task.done()]
        if not running:
            return
        async with self.pool.pipeline(transaction=False) as pipe:
            for job_id in running:
                pipe.pexpire(in_progress_key_prefix + job_id, int(self.job_lease * 1000))
            await pipe.execute()
