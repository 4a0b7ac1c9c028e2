"""SQL for sessions and their refresh tokens."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from veza.db import Executor, Row


async def insert_session(db: Executor, session_id: UUID, user_id: UUID) -> None:
    await db.execute("INSERT INTO sessions (id, user_id) VALUES (%s, %s)", (session_id, user_id))


async def session_revoked(db: Executor, session_id: UUID) -> bool:
    """Whether the session is revoked; one that does not exist (its user deleted) counts as revoked."""
    revoked = await db.fetch_val("SELECT revoked_at IS NOT NULL FROM sessions WHERE id = %s", (session_id,))
    return revoked is not False


async def revoke_sessions(db: Executor, session_ids: list[UUID]) -> list[UUID]:
    """Revoke these sessions; return those that were live until now."""
    rows = await db.fetch_all(
        "UPDATE sessions SET revoked_at = now() WHERE id = ANY(%s::uuid[]) AND revoked_at IS NULL RETURNING id",
        (session_ids,),
    )
    return [row["id"] for row in rows]


async def revoke_other_sessions(db: Executor, user_id: UUID, keep: UUID | None) -> list[UUID]:
    """Revoke every live session of the user but one; return the revoked session ids."""
    rows = await db.fetch_all(
        """
        UPDATE sessions SET revoked_at = now()
        WHERE user_id = %s AND revoked_at IS NULL AND id IS DISTINCT FROM %s
        RETURNING id
        """,
        (user_id, keep),
    )
    return [row["id"] for row in rows]


async def insert_refresh_token(
    db: Executor, user_id: UUID, session_id: UUID, token_hash: bytes, expires_at: datetime
) -> None:
    await db.execute(
        "INSERT INTO refresh_tokens (user_id, session_id, token_hash, expires_at) VALUES (%s, %s, %s, %s)",
        (user_id, session_id, token_hash, expires_at),
    )


async def lock_refresh_token(db: Executor, token_hash: bytes, grace_seconds: float = 0) -> Row | None:
    """The token's row with its session's state, locked until the transaction ends so that one refresh
    at a time sees it; `in_grace` when it was used less than `grace_seconds` ago."""
    return await db.fetch_one(
        """
        SELECT t.id, t.user_id, t.session_id, t.used_at, s.revoked_at, t.expires_at <= now() AS expired,
               t.used_at > now() - make_interval(secs => %s) AS in_grace
        FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
        WHERE t.token_hash = %s
        FOR UPDATE OF t
        """,
        (grace_seconds, token_hash),
    )


async def mark_used(db: Executor, token_id: UUID) -> None:
    await db.execute("UPDATE refresh_tokens SET used_at = now() WHERE id = %s AND used_at IS NULL", (token_id,))


async def delete_sessions(db: Executor, user_id: UUID) -> None:
    """Every session of the user and their refresh tokens (a session that is gone counts as revoked)."""
    await db.execute("DELETE FROM sessions WHERE user_id = %s", (user_id,))
