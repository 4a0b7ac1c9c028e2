"""Registration, login with lockout, rotating refresh tokens, logout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from aiohttp import web

from veza.auth import queries
from veza.auth.passwords import burn_verification_time, hash_password, needs_rehash, password_problem, verify_password
from veza.auth.revocation import deny_token, revoke_sessions
from veza.auth.tokens import AuthUser, digest, issue_access_token, new_refresh_token
from veza.db import Queries, UniqueViolation, transaction
from veza.errors import Conflict, Invalid, Locked, Unauthorized
from veza.keys import DB, REDIS, SETTINGS
from veza.ratelimit import count_hit, limit
from veza.realtime.publish import close_sessions
from veza.users import queries as users

MAX_FAILURES, FAILURE_WINDOW, LOCK_SECONDS = 5, 15 * 60, 30 * 60
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


async def start_session(app: web.Application, tx: Queries, user: dict[str, Any], family: UUID | None = None) -> Session:
    """Issue an access token and a refresh token; a new family (session) unless one is given."""
    settings = app[SETTINGS]
    family = family or uuid.uuid4()
    refresh_token = new_refresh_token()
    expires_at = datetime.now(UTC) + timedelta(seconds=settings.refresh_token_ttl)
    await queries.insert_refresh_token(tx, user["id"], family, digest(refresh_token), expires_at)
    return Session(
        user=user,
        access_token=issue_access_token(settings, user["id"], user["role"], family),
        refresh_token=refresh_token,
        expires_in=settings.access_token_ttl,
    )


def check_password(password: str, *, username: str, email: str, field: str = "password") -> None:
    problem = password_problem(password, username=username, email=email)
    if problem:
        raise Invalid(details=[{"field": field, "message": f"Password {problem}"}])


async def ensure_available(db: Queries, *, username=None, email=None, other_than=None) -> None:
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
    password_hash = await hash_password(password)
    try:
        async with transaction(app[DB]) as tx:
            user = await users.insert_user(tx, username, email, password_hash)
            return await start_session(app, tx, user)
    except UniqueViolation:  # lost a race with a registration of the same name
        await ensure_available(app[DB], username=username, email=email)
        raise


def _lock_keys(email: str) -> tuple[str, str]:
    # Keyed by the address asked for, whether or not an account has it: locking
    # only real accounts would tell which addresses are registered.
    normalized = email.strip().lower()
    return f"veza:login:failures:{normalized}", f"veza:login:locked:{normalized}"


async def login(app: web.Application, email: str, password: str, client: str) -> Session:
    redis = app[REDIS]
    await limit(redis, "login", client, max_hits=LOGINS_PER_MINUTE_PER_CLIENT, per=60)
    failures_key, locked_key = _lock_keys(email)
    locked_for = await redis.ttl(locked_key)
    if locked_for > 0:
        raise Locked("Too many failed logins; try again later", headers={"Retry-After": str(locked_for)})

    account = await users.find_login(app[DB], email.strip())
    if account is None:
        await burn_verification_time(password)
    if account is None or not await verify_password(account["password_hash"], password):
        failures, _ = await count_hit(redis, failures_key, FAILURE_WINDOW)
        if failures >= MAX_FAILURES:
            async with redis.pipeline(transaction=True) as pipe:
                await pipe.set(locked_key, 1, ex=LOCK_SECONDS).delete(failures_key).execute()
            raise Locked("Too many failed logins; try again later", headers={"Retry-After": str(LOCK_SECONDS)})
        raise Unauthorized(BAD_CREDENTIALS, code="invalid_credentials")

    await redis.delete(failures_key)
    password_hash = account.pop("password_hash")
    async with transaction(app[DB]) as tx:
        if needs_rehash(password_hash):
            await users.update_user(tx, account["id"], {"password_hash": await hash_password(password)})
        return await start_session(app, tx, account)


async def refresh(app: web.Application, refresh_token: str | None, client: str) -> Session:
    """Trade a refresh token for a new pair. A token is good once: showing it again ends its session."""
    await limit(app[REDIS], "refresh", client, max_hits=REFRESHES_PER_MINUTE_PER_CLIENT, per=60)
    if not refresh_token:
        raise Unauthorized("Refresh token required", code="invalid_refresh_token")
    reused_family = None
    async with transaction(app[DB]) as tx:
        row = await queries.lock_refresh_token(tx, digest(refresh_token))
        if row is None or row["revoked_at"] is not None or row["expired"]:
            raise Unauthorized("Invalid or expired refresh token", code="invalid_refresh_token")
        if row["used_at"] is not None:
            await queries.revoke_family(tx, row["family_id"])
            reused_family = row["family_id"]
        else:
            await queries.mark_used(tx, row["id"])
            user = await users.get_user(tx, row["user_id"])
            return await start_session(app, tx, user, family=row["family_id"])
    # Committed: the family is revoked in the database; its access tokens die too.
    await revoke_sessions(app[REDIS], [reused_family], app[SETTINGS].access_token_ttl)
    await close_sessions(app, [reused_family])
    raise Unauthorized("Refresh token already used; the session has been ended", code="refresh_token_reused")


async def logout(app: web.Application, refresh_token: str | None, user: AuthUser | None) -> None:
    """End the session of the refresh token and of the access token, whichever are given."""
    sessions = set()
    async with transaction(app[DB]) as tx:
        if refresh_token:
            row = await queries.lock_refresh_token(tx, digest(refresh_token))
            if row is not None:
                sessions.add(row["family_id"])
        if user is not None:
            sessions.add(user.sid)
        for family in sessions:
            await queries.revoke_family(tx, family)
    if user is not None:
        await deny_token(app[REDIS], user)
    await revoke_sessions(app[REDIS], sessions, app[SETTINGS].access_token_ttl)
    await close_sessions(app, sessions)


async def end_other_sessions(app: web.Application, tx: Queries, user: AuthUser) -> None:
    """Revoke every session of the user but the caller's (after a password or email change)."""
    revoked = await queries.revoke_other_families(tx, user.id, user.sid)
    tx.after_commit(revoke_sessions, app[REDIS], revoked, app[SETTINGS].access_token_ttl)
    tx.after_commit(close_sessions, app, revoked)
