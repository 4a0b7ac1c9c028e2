"""Jobs of users' data: build an export archive, delete expired ones, queue again those a crash lost;
erase a deleted account, and queue again the erasures left unfinished."""

from __future__ import annotations

from uuid import UUID

from arq import cron, func

from veza.constants import ERASE_ACCOUNT_JOB, EXPIRE_EXPORTS_JOB, EXPORT_JOB, SWEEP_ERASURES_JOB, SWEEP_EXPORTS_JOB
from veza.users import deletion
from veza.users.export import JOB_TIMEOUT, build_export, delete_expired, requeue_stale


async def build_data_export(ctx: dict, export_id: str) -> str:
    """Build and store the export's ZIP; its status afterwards."""
    return await build_export(ctx["app"], UUID(export_id))


# A failure is recorded on the export itself (failed, its owner notified); a crashed worker's export is
# queued again by the sweep, so arq itself does not retry much.
build_export_job = func(build_data_export, name=EXPORT_JOB, timeout=JOB_TIMEOUT, max_tries=2)


async def expire_exports(ctx: dict) -> int:
    """Daily: delete the archives past their 7 days."""
    return await delete_expired(ctx["app"])


async def sweep_exports(ctx: dict) -> int:
    """Queue again the exports left pending or running past the build job's timeout."""
    return await requeue_stale(ctx["app"])


expire_exports_cron = cron(
    expire_exports, name=EXPIRE_EXPORTS_JOB, hour={3}, minute={41}, unique=True, timeout=30 * 60, max_tries=3
)
# Every ten minutes; unique, so that one worker of many sweeps.
sweep_exports_cron = cron(
    sweep_exports,
    name=SWEEP_EXPORTS_JOB,
    minute=set(range(2, 60, 10)),
    second=29,
    unique=True,
    timeout=120,
    max_tries=1,
)


async def erase_account(ctx: dict, user_id: str) -> bool:
    """Delete what a deleted account held; False if there was nothing to do."""
    return await deletion.erase_account(ctx["app"], UUID(user_id))


# Each try goes on where the last one stopped; the sweep queues the erasure again after an outage.
erase_account_job = func(erase_account, name=ERASE_ACCOUNT_JOB, timeout=deletion.JOB_TIMEOUT, max_tries=3)


async def sweep_erasures(ctx: dict) -> int:
    """Queue again the erasures of deleted accounts left unfinished past the job's timeout."""
    return await deletion.requeue_unfinished(ctx["app"])


sweep_erasures_cron = cron(
    sweep_erasures,
    name=SWEEP_ERASURES_JOB,
    minute=set(range(7, 60, 10)),
    second=13,
    unique=True,
    timeout=120,
    max_tries=1,
)
