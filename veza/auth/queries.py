"""SQL for refresh tokens (sessions)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from veza.db import Queries, Row


async def insert_refresh_token(
    db: Queries, user_id: UUID, family_id: UUID, token_hash: bytes, expires_at: datetime
) -> None:
    await db.execute(
        "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at) VALUES (%s, %s, %s, %s)",
        (user_id, family_id, token_hash, expires_at),
    )


async def lock_refresh_token(db: Queries, token_hash: bytes) -> Row | None:
    """The token's row, locked until the transaction ends, so that one refresh wins a race."""
    return await db.fetch_one(
        """
        SELECT id, user_id, family_id, expires_at, used_at, revoked_at, expires_at <= now() AS expired
        FROM refresh_tokens WHERE token_hash = %s FOR UPDATE
        """,
        (token_hash,),
    )


async def mark_used(db: Queries, token_id: UUID) -> None:
    await db.execute("UPDATE refresh_tokens SET used_at = now() WHERE id = %s AND used_at IS NULL", (token_id,))


async def revoke_family(db: Queries, family_id: UUID) -> int:
    return await db.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = %s AND revoked_at IS NULL", (family_id,)
    )


async def revoke_other_families(db: Queries, user_id: UUID, keep_family: UUID | None) -> list[UUID]:
    """Revoke every session of the user but one; return the revoked session ids."""
    rows = await db.fetch_all(
        """
        UPDATE refresh_tokens SET revoked_at = now()
        WHERE user_id = %s AND revoked_at IS NULL AND family_id IS DISTINCT FROM %s
        RETURNING family_id
        """,
        (user_id, keep_family),
    )
    return list({row["family_id"] for row in rows})
