"""Payouts: each seller's share of a paid order sent on the Connect gateway, retried, reversed."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from veza.constants import REVERSE_TRANSFER_JOB, SEND_TRANSFER_JOB
from veza.jobs import enqueue


def transfer_job_id(transfer_id: UUID | str, attempt: int) -> str:
    """One job id per attempt: arq refuses a second job with an id it still queues or keeps a result of."""
    return f"transfer:{transfer_id}:{attempt}"


def reversal_job_id(transfer_id: UUID | str, attempt: int) -> str:
    return f"reversal:{transfer_id}:{attempt}"


async def queue_transfer(app: web.Application, transfer_id: UUID | str, attempt: int = 0) -> None:
    await enqueue(app, SEND_TRANSFER_JOB, str(transfer_id), job_id=transfer_job_id(transfer_id, attempt))


async def queue_reversal(app: web.Application, transfer_id: UUID | str, attempt: int = 0) -> None:
    await enqueue(app, REVERSE_TRANSFER_JOB, str(transfer_id), job_id=reversal_job_id(transfer_id, attempt))
