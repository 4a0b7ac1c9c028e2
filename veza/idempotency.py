"""Idempotency-Key for the writes that move money (orders; later refunds, admin retries).

    answer = await run_once(app, user_id, "orders.create", key, request_hash(body), lambda: create(...))

The first request with a key claims it (a row with no answer yet), runs, and stores its answer; the
same key with the same request then replays that answer (status and body) for 24 hours, and with
another request is a 409. A second request arriving while the first still runs is a 409 "in
progress" with Retry-After (it does not wait): two concurrent requests never both run. A request
that fails (an error answer, a crash of the action) gives its key back, so the client may retry with
it; only successful answers are kept. A claim left by a process that died mid-request is taken over
once older than IN_PROGRESS_TIMEOUT. Keys older than 24 hours are purged by a cron job
(`purge_expired`) and, until then, are free to be claimed again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from aiohttp import web
from psycopg2.extras import Json

from veza.db import Executor
from veza.errors import Conflict, Invalid
from veza.http import UNSTORABLE_MESSAGE, json_dumps, unstorable_fields
from veza.keys import DB

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# In the SQL below: answers are kept 24 hours; a claim without an answer after 120 seconds (longer
# than any request may run, gateway calls included) was left by a process that died, and is taken over.


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any
    replayed: bool = False


def parse_key(value: str | None) -> str | None:
    """The header's key, or None without one; 422 for an empty, too long or unstorable key."""
    if value is None:
        return None
    problem = None
    if not 1 <= len(value) <= MAX_KEY_LENGTH:
        problem = f"must be 1 to {MAX_KEY_LENGTH} characters"
    elif unstorable_fields(value):
        problem = UNSTORABLE_MESSAGE
    if problem:
        raise Invalid(f"Invalid {HEADER} header", details=[{"field": HEADER, "message": problem}])
    return value


def request_hash(request: Any) -> str:
    """A digest of the request's meaning (its parsed body): the same request in other spacing is the same."""
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def _claim(db: Executor, user_id: UUID, scope: str, key: str, digest: str) -> bool:
    row = await db.fetch_one(
        """
        INSERT INTO idempotency_keys AS k (user_id, scope, key, request_hash) VALUES (%s, %s, %s, %s)
        ON CONFLICT (user_id, scope, key) DO UPDATE
            SET request_hash = excluded.request_hash, status_code = NULL, response = NULL, created_at = now()
            WHERE k.created_at < now() - interval '24 hours'
               OR (k.status_code IS NULL AND k.created_at < now() - interval '120 seconds')
        RETURNING true AS claimed
        """,
        (user_id, scope, key, digest),
    )
    return row is not None


async def _earlier(db: Executor, user_id: UUID, scope: str, key: str, digest: str) -> Answer | None:
    """The stored answer to replay; None when the key was given back meanwhile (claim it again)."""
    row = await db.fetch_one(
        "SELECT request_hash, status_code, response FROM idempotency_keys "
        "WHERE user_id = %s AND scope = %s AND key = %s",
        (user_id, scope, key),
    )
    if row is None:
        return None
    if row["request_hash"] != digest:
        raise Conflict(f"This {HEADER} was used with another request", code="idempotency_key_reused")
    if row["status_code"] is None:
        raise Conflict(
            f"A request with this {HEADER} is still in progress",
            code="idempotency_in_progress",
            headers={"Retry-After": "1"},
        )
    return Answer(row["status_code"], row["response"], replayed=True)


async def run_once(
    app: web.Application,
    user_id: UUID,
    scope: str,
    key: str | None,
    digest: str,
    action: Callable[[], Awaitable[Answer]],
) -> Answer:
    """`action`'s answer, run once per (user, scope, key); without a key, simply run."""
    if key is None:
        return await action()
    db = app[DB]
    while not await _claim(db, user_id, scope, key, digest):
        if (earlier := await _earlier(db, user_id, scope, key, digest)) is not None:
            return earlier
    try:
        answer = await action()
    except BaseException:
        await db.execute(
            "DELETE FROM idempotency_keys WHERE user_id = %s AND scope = %s AND key = %s AND status_code IS NULL",
            (user_id, scope, key),
        )
        raise
    await db.execute(
        """
        UPDATE idempotency_keys SET status_code = %s, response = %s
        WHERE user_id = %s AND scope = %s AND key = %s AND status_code IS NULL
        """,
        (answer.status, Json(answer.data, dumps=lambda data: json_dumps(data).decode()), user_id, scope, key),
    )
    return answer


async def purge_expired(db: Executor) -> int:
    """Delete the keys past their 24 hours; the number deleted."""
    return await db.execute("DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'")


async def forget_user(db: Executor, user_id: UUID) -> None:
    """The user's remembered answers, for a deleted account's erasure."""
    await db.execute("DELETE FROM idempotency_keys WHERE user_id = %s", (user_id,))
