"""Registration, login with lockout, rotating refresh tokens, logout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from aiohttp import web
from redis.exceptions import RedisError

from veza.auth import lockout, queries
from veza.auth.passwords import password_problem
from veza.auth.revocation import revoke_sessions, revoke_sessions_in
from veza.auth.tokens import AuthUser, digest, issue_access_token, new_refresh_token
from veza.db import Executor, Transaction, UniqueViolation, transaction
from veza.errors import Conflict, Invalid, Unauthorized, Unavailable
from veza.keys import DB, PASSWORDS, REDIS, SETTINGS
from veza.ratelimit import limit
from veza.users import queries as users

LOGINS_PER_MINUTE_PER_CLIENT = 20
REGISTRATIONS_PER_HOUR_PER_CLIENT = 20
REFRESHES_PER_MINUTE_PER_CLIENT = 60
BAD_CREDENTIALS = "Invalid email or password"


@dataclass(frozen=True)
class Session:
    user: dict[str, Any]
    access_token: str
    refresh_token: str
    expires_in: int


async def start_session(
    app: web.Application, tx: Executor, user: dict[str, Any], session_id: UUID | None = None
) -> Session:
    """Issue an access token and a refresh token, in a new session unless one is given."""
    settings = app[SETTINGS]
    if session_id is None:
        session_id = uuid.uuid4()
        await queries.insert_session(tx, session_id, user["id"])
    refresh_token = new_refresh_token()
    expires_at = datetime.now(UTC) + timedelta(seconds=settings.refresh_token_ttl)
    await queries.insert_refresh_token(tx, user["id"], session_id, digest(refresh_token), expires_at)
    return Session(
        user=user,
        access_token=issue_access_token(settings, user["id"], user["role"], session_id),
        refresh_token=refresh_token,
        expires_in=settings.access_token_ttl,
    )


def check_password(password: str, *, username: str, email: str, field: str = "password") -> None:
    problem = password_problem(password, username=username, email=email)
    if problem:
        raise Invalid(details=[{"field": field, "message": f"Password {problem}"}])


async def ensure_available(db: Executor, *, username=None, email=None, other_than=None) -> None:
    clash = await users.taken(db, username=username, email=email, other_than=other_than)
    if clash:
        raise Conflict(
            f"That {' and '.join(clash)} {'is' if len(clash) == 1 else 'are'} already taken",
            code="already_taken",
            details=[{"field": field, "message": "already taken"} for field in clash],
        )


async def register(app: web.Application, username: str, email: str, password: str, client: str) -> Session:
    await limit(app[REDIS], "register", client, max_hits=REGISTRATIONS_PER_HOUR_PER_CLIENT, per=3600)
    check_password(password, username=username, email=email)
    await ensure_available(app[DB], username=username, email=email)
    password_hash = await app[PASSWORDS].hash(password)
    try:
        async with transaction(app[DB]) as tx:
            user = await users.insert_user(tx, username, email, password_hash)
            return await start_session(app, tx, user)
    except UniqueViolation:  # lost a race with a registration of the same name
        await ensure_available(app[DB], username=username, email=email)
        raise


async def login(app: web.Application, email: str, password: str, client: str) -> Session:
    redis = app[REDIS]
    try:
        await limit(redis, "login", client, max_hits=LOGINS_PER_MINUTE_PER_CLIENT, per=60)
        account = await users.find_login(app[DB], email.strip())
        attempt = await lockout.begin_attempt(redis, email)
    except RedisError as exc:
        # Fail closed: a password checked without counting the attempt would escape the lockout.
        raise Unavailable("Login is unavailable right now; try again shortly") from exc

    passwords = app[PASSWORDS]
    if account is None:
        await passwords.burn_verification_time(password)
    if account is None or not await passwords.verify(account["password_hash"], password):
        await lockout.record_failure(redis, attempt)
        raise Unauthorized(BAD_CREDENTIALS, code="invalid_credentials")

    await lockout.record_success(redis, attempt)
    password_hash = account.pop("password_hash")
    async with transaction(app[DB]) as tx:
        if passwords.needs_rehash(password_hash):
            await users.update_user(tx, account["id"], {"password_hash": await passwords.hash(password)})
        return await start_session(app, tx, account)


async def refresh(app: web.Application, refresh_token: str | None, client: str) -> Session:
    """Trade a refresh token for a new pair. A token is good once; shown again within the grace period (another
    tab refreshing at the same time) it gets a pair of its own in the same session; shown later, it ends the session.
    """
    await limit(app[REDIS], "refresh", client, max_hits=REFRESHES_PER_MINUTE_PER_CLIENT, per=60)
    if not refresh_token:
        raise Unauthorized("Refresh token required", code="invalid_refresh_token")
    async with transaction(app[DB]) as tx:
        row = await queries.lock_refresh_token(tx, digest(refresh_token), app[SETTINGS].refresh_reuse_grace_seconds)
        if row is None or row["revoked_at"] is not None or row["expired"]:
            raise Unauthorized("Invalid or expired refresh token", code="invalid_refresh_token")
        if row["used_at"] is None or row["in_grace"]:
            await queries.mark_used(tx, row["id"])
            user = await users.get_user(tx, row["user_id"])
            return await start_session(app, tx, user, session_id=row["session_id"])
        await queries.revoke_sessions(tx, [row["session_id"]])
        tx.after_commit(revoke_sessions, app, [row["session_id"]])
    raise Unauthorized("Refresh token already used; the session has been ended", code="refresh_token_reused")


async def logout(app: web.Application, refresh_token: str | None, user: AuthUser | None) -> None:
    """End the session of the refresh token and of the access token, whichever are given."""
    sessions = set()
    async with transaction(app[DB]) as tx:
        if refresh_token:
            row = await queries.lock_refresh_token(tx, digest(refresh_token))
            if row is not None:
                sessions.add(row["session_id"])
        if user is not None:
            sessions.add(user.sid)
        await queries.revoke_sessions(tx, list(sessions))
        tx.after_commit(revoke_sessions, app, list(sessions))


async def end_all_sessions(app: web.Application, tx: Transaction, user_id: UUID) -> None:
    """Revoke every session of the user, as part of deleting the account; their sockets close after the commit."""
    await revoke_sessions_in(app, tx, await queries.revoke_other_sessions(tx, user_id, None))


async def end_other_sessions(app: web.Application, tx: Transaction, user: AuthUser) -> None:
    """Revoke every session of the user but the caller's, as part of a password or email change."""
    revoked = await queries.revoke_other_sessions(tx, user.id, user.sid)
    await revoke_sessions_in(app, tx, list(revoked))
