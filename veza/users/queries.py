"""SQL for users."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from veza.db import Executor, Row, set_clause

PUBLIC_COLUMNS = "id, username::text AS username, email::text AS email, role, created_at, updated_at"
UPDATABLE = frozenset({"username", "email", "password_hash", "role"})


DELETED_NAME = "deleted user"  # how a deleted account is shown in the records others keep


def summary_json(user_id: str) -> str:
    """SQL for another domain's SELECT list: `{"id", "username"}` of the user whose id is the SQL `user_id`
    (a deleted account shows as DELETED_NAME)."""
    return (
        "(SELECT json_build_object('id', u.id, 'username',"
        f" CASE WHEN u.deleted_at IS NULL THEN u.username::text ELSE '{DELETED_NAME}' END)"
        f" FROM users u WHERE u.id = {user_id})"
    )


async def insert_user(db: Executor, username: str, email: str, password_hash: str, role: str = "user") -> Row:
    return await db.fetch_one(
        f"INSERT INTO users (username, email, password_hash, role) VALUES (%s, %s, %s, %s) RETURNING {PUBLIC_COLUMNS}",
        (username, email, password_hash, role),
    )


async def get_user(db: Executor, user_id: UUID) -> Row:
    return await db.fetch_found(f"SELECT {PUBLIC_COLUMNS} FROM users WHERE id = %s", (user_id,), "User not found")


async def public_profile(db: Executor, user_id: UUID) -> Row | None:
    """What anyone may see of an account that is not deleted: its name and since when it exists."""
    return await db.fetch_one(
        "SELECT id, username::text AS username, created_at AS member_since FROM users"
        " WHERE id = %s AND deleted_at IS NULL",
        (user_id,),
    )


async def find_login(db: Executor, email: str) -> Row | None:
    """The user with this email (any case) and their password hash."""
    return await db.fetch_one(f"SELECT {PUBLIC_COLUMNS}, password_hash FROM users WHERE email = %s", (email,))


async def get_password_hash(db: Executor, user_id: UUID) -> str:
    row = await db.fetch_found("SELECT password_hash FROM users WHERE id = %s", (user_id,), "User not found")
    return row["password_hash"]


async def taken(db: Executor, *, username: str | None = None, email: str | None = None, other_than=None) -> list[str]:
    """Which of username / email another account already has."""
    row = await db.fetch_one(
        """
        SELECT bool_or(username = %(username)s) AS username, bool_or(email = %(email)s) AS email
        FROM users
        WHERE (username = %(username)s OR email = %(email)s) AND id IS DISTINCT FROM %(other)s
        """,
        {"username": username, "email": email, "other": other_than},
    )
    return [field for field in ("username", "email") if row and row[field]]


async def update_user(db: Executor, user_id: UUID, fields: dict[str, Any]) -> Row:
    """Set the given columns (names come from code, never from the client)."""
    return await db.fetch_found(
        f"UPDATE users SET {set_clause(fields, UPDATABLE)} WHERE id = %(id)s RETURNING {PUBLIC_COLUMNS}",
        {**fields, "id": user_id},
        "User not found",
    )


async def become_seller(db: Executor, user_id: UUID) -> bool:
    """A user's first product makes them a seller; admins stay admins."""
    return bool(await db.execute("UPDATE users SET role = 'seller' WHERE id = %s AND role = 'user'", (user_id,)))


async def admin_ids(db: Executor) -> list[UUID]:
    """Every admin, for the notifications meant for the platform's team."""
    return [row["id"] for row in await db.fetch_all("SELECT id FROM users WHERE role = 'admin' ORDER BY id")]


async def billing_party(db: Executor, user_id: UUID) -> Row:
    """The username and email an invoice shows of its buyer: none of a deleted account's."""
    return await db.fetch_found(
        f"""
        SELECT CASE WHEN deleted_at IS NULL THEN username::text ELSE '{DELETED_NAME}' END AS username,
               CASE WHEN deleted_at IS NULL THEN email::text ELSE '' END AS email
        FROM users WHERE id = %s
        """,
        (user_id,),
        "User not found",
    )


# Account deletion (veza/users/deletion.py).


async def lock_account(tx: Executor, user_id: UUID) -> Row:
    """The account, locked until the transaction ends; a deleted one is not found."""
    return await tx.fetch_found(
        "SELECT id, password_hash FROM users WHERE id = %s AND deleted_at IS NULL FOR UPDATE",
        (user_id,),
        "User not found",
    )


async def mark_deleted(tx: Executor, user_id: UUID) -> None:
    """From now on the account names nobody and nobody can log in to it: its username, email and password
    become placeholders no one can type or match ('!' is no password hash), its role the least."""
    await tx.execute(
        """
        UPDATE users SET
            username = 'deleted-' || left(replace(id::text, '-', ''), 20),
            email = id::text || '@deleted.invalid',
            password_hash = '!', role = 'user', deleted_at = now(), updated_at = now()
        WHERE id = %s AND deleted_at IS NULL
        """,
        (user_id,),
    )


async def erasure_state(db: Executor, user_id: UUID) -> Row | None:
    return await db.fetch_one("SELECT id, deleted_at, erased_at FROM users WHERE id = %s", (user_id,))


async def mark_erased(db: Executor, user_id: UUID) -> bool:
    return bool(
        await db.execute(
            "UPDATE users SET erased_at = now() WHERE id = %s AND deleted_at IS NOT NULL AND erased_at IS NULL",
            (user_id,),
        )
    )


async def unfinished_erasures(db: Executor, deleted_before_seconds: float, limit: int) -> list[UUID]:
    """Deleted accounts whose erasure has not finished this long after the deletion."""
    rows = await db.fetch_all(
        """
        SELECT id FROM users
        WHERE deleted_at IS NOT NULL AND erased_at IS NULL AND deleted_at < now() - make_interval(secs => %s)
        ORDER BY deleted_at LIMIT %s
        """,
        (deleted_before_seconds, limit),
    )
    return [row["id"] for row in rows]
