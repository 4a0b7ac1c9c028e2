"""The caller's own account."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from veza.auth.service import check_password, end_other_sessions, ensure_available
from veza.auth.tokens import AuthUser
from veza.db import UniqueViolation, transaction
from veza.errors import Invalid
from veza.keys import DB, PASSWORDS
from veza.marketplace.cache import catalog_changed
from veza.users import queries
from veza.users.models import UpdateMeIn


async def create_user(app: web.Application, username: str, email: str, password: str, role: str) -> dict[str, Any]:
    """An account made by an operator (``veza create-admin``, seeds): same rules as registration."""
    check_password(password, username=username, email=email)
    await ensure_available(app[DB], username=username, email=email)
    return await queries.insert_user(app[DB], username, email, await app[PASSWORDS].hash(password), role)


async def update_me(app: web.Application, caller: AuthUser, changes: UpdateMeIn) -> dict[str, Any]:
    """Rename, change email or password. Email and password need the current password and end other sessions."""
    db = app[DB]
    current = await queries.get_user(db, caller.id)
    fields: dict[str, Any] = {}
    if changes.username is not None and changes.username != current["username"]:
        fields["username"] = changes.username
    if changes.email is not None and changes.email.lower() != current["email"].lower():
        fields["email"] = changes.email
    sensitive = "email" in fields or changes.password is not None
    if sensitive:
        if not changes.current_password or not await app[PASSWORDS].verify(
            await queries.get_password_hash(db, caller.id), changes.current_password
        ):
            raise Invalid(
                "The current password is needed to change email or password",
                code="current_password_required",
                details=[{"field": "current_password", "message": "missing or incorrect"}],
            )
    if changes.password is not None:
        check_password(
            changes.password,
            username=fields.get("username", current["username"]),
            email=fields.get("email", current["email"]),
        )
        fields["password_hash"] = await app[PASSWORDS].hash(changes.password)
    if not fields:
        return current
    await ensure_available(db, username=fields.get("username"), email=fields.get("email"), other_than=caller.id)
    try:
        async with transaction(db) as tx:
            updated = await queries.update_user(tx, caller.id, fields)
            if sensitive:
                await end_other_sessions(app, tx, caller)
            if "username" in fields:  # shown on the seller's products and page and on the user's reviews
                tx.after_commit(catalog_changed, app)
    except UniqueViolation:
        await ensure_available(db, username=fields.get("username"), email=fields.get("email"), other_than=caller.id)
        raise
    return updated
