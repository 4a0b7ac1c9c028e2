"""Account deletion (GDPR's right to erasure), in two parts.

`delete_account` is the request: with the current password, in one transaction, the account's products
leave the catalog and the account becomes a placeholder that names nobody and that nobody can log in
to (veza.users.queries.mark_deleted); every session ends and its sockets close. It is refused (409)
while the seller's transfers are still to be paid, retried or reversed.

`erase_account` is the job that follows: each domain deletes what the account held, blobs before rows,
each step safe to run again; `erased_at` marks the end. A crash or an outage leaves the account deleted
(it can never log in again) and its erasure unfinished; the sweep queues it again.

What stays, pointing at the placeholder and shown as a deleted user: orders, their items, licenses and
invoices; transfers and refunds; sold products (archived) with the one file version their buyers
download; the Connect account, which pays out sales still in flight and takes back refunded transfers.
"""

from __future__ import annotations

import logging
import time
from uuid import UUID

from aiohttp import web

from veza.auth import queries as auth_queries
from veza.auth.service import end_all_sessions
from veza.cloud.erasure import erase_files
from veza.constants import ERASE_ACCOUNT_JOB
from veza.db import transaction
from veza.errors import Conflict, Invalid
from veza.gear.erasure import erase_gear
from veza.idempotency import forget_user as forget_idempotency_keys
from veza.jobs import enqueue
from veza.keys import DB, PASSWORDS, REDIS, STORAGE
from veza.live.service import erase_streams
from veza.marketplace import queries as marketplace_queries
from veza.marketplace.cache import catalog_changed
from veza.marketplace.erasure import erase_marketplace
from veza.notifications import queries as notification_queries
from veza.payments import transfer_queries
from veza.ratelimit import limit
from veza.users import export_queries, queries

log = logging.getLogger(__name__)

ATTEMPTS_PER_HOUR = 5  # password tries; a stolen token must not become a password oracle
JOB_TIMEOUT = 30 * 60
SWEEP_AFTER = JOB_TIMEOUT + 5 * 60  # an erasure unfinished this long after the deletion was lost
SWEEP_BATCH = 100
PAGE = 200


async def queue_erasure(app: web.Application, user_id: UUID, round_: int | None = None) -> None:
    """Queue the erasure; its job id is the deletion's, then one per hour of the sweep's."""
    job_id = f"{ERASE_ACCOUNT_JOB}:{user_id}" + ("" if round_ is None else f":{round_}")
    await enqueue(app, ERASE_ACCOUNT_JOB, str(user_id), job_id=job_id)


async def delete_account(app: web.Application, user_id: UUID, password: str) -> None:
    await limit(app[REDIS], "delete-account", str(user_id), max_hits=ATTEMPTS_PER_HOUR, per=3600)
    db = app[DB]
    if not await app[PASSWORDS].verify(await queries.get_password_hash(db, user_id), password):
        raise Invalid(
            "The password is incorrect",
            code="password_incorrect",
            details=[{"field": "password", "message": "incorrect"}],
        )
    async with transaction(db) as tx:
        await queries.lock_account(tx, user_id)
        if unsettled := await transfer_queries.unsettled_count(tx, user_id):
            raise Conflict(
                f"{unsettled} of your payouts are still being paid, retried or reversed; "
                "the account can be deleted once they are settled",
                code="transfers_unsettled",
            )
        await marketplace_queries.archive_seller_products(tx, user_id)
        tx.after_commit(catalog_changed, app)  # its products, its seller page, its name on its reviews
        await queries.mark_deleted(tx, user_id)
        await end_all_sessions(app, tx, user_id)
        tx.after_commit(queue_erasure, app, user_id)


async def erase_account(app: web.Application, user_id: UUID) -> bool:
    """Delete what the deleted account held; False if there is nothing to do (not deleted, or erased)."""
    db = app[DB]
    state = await queries.erasure_state(db, user_id)
    if state is None or state["deleted_at"] is None or state["erased_at"] is not None:
        return False
    await erase_files(app, user_id)
    await erase_gear(app, user_id)
    await _erase_exports(app, user_id)
    await erase_marketplace(app, user_id, state["deleted_at"])
    await erase_streams(app, user_id)
    async with transaction(db) as tx:
        await notification_queries.delete_all(tx, user_id)
        await forget_idempotency_keys(tx, user_id)
        await auth_queries.delete_sessions(tx, user_id)
        await queries.mark_erased(tx, user_id)
    log.info("account %s erased", user_id)
    return True


async def _erase_exports(app: web.Application, user_id: UUID) -> None:
    db, storage = app[DB], app[STORAGE]
    while exports := await export_queries.stored_exports(db, user_id, PAGE):
        for export in exports:
            await storage.delete(export["storage_key"])
        await export_queries.delete_exports(db, [export["id"] for export in exports])
    await export_queries.delete_user_exports(db, user_id)


async def requeue_unfinished(app: web.Application) -> int:
    """Queue again the erasures still unfinished past the job's timeout; how many."""
    user_ids = await queries.unfinished_erasures(app[DB], SWEEP_AFTER, SWEEP_BATCH)
    round_ = int(time.time() // 3600)
    for user_id in user_ids:
        await queue_erasure(app, user_id, round_)
    return len(user_ids)
