"""SQL for users."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from veza.db import Executor, Row, set_clause

PUBLIC_COLUMNS = "id, username::text AS username, email::text AS email, role, created_at, updated_at"
UPDATABLE = frozenset({"username", "email", "password_hash", "role"})


def summary_json(user_id: str) -> str:
    """SQL for another domain's SELECT list: `{"id", "username"}` of the user whose id is the SQL `user_id`."""
    return f"(SELECT json_build_object('id', u.id, 'username', u.username) FROM users u WHERE u.id = {user_id})"


async def insert_user(db: Executor, username: str, email: str, password_hash: str, role: str = "user") -> Row:
    return await db.fetch_one(
        f"INSERT INTO users (username, email, password_hash, role) VALUES (%s, %s, %s, %s) RETURNING {PUBLIC_COLUMNS}",
        (username, email, password_hash, role),
    )


async def get_user(db: Executor, user_id: UUID) -> Row:
    return await db.fetch_found(f"SELECT {PUBLIC_COLUMNS} FROM users WHERE id = %s", (user_id,), "User not found")


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
