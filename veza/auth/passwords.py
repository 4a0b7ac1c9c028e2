"""Password hashing (argon2id, OWASP parameters) and the strength rules."""

from __future__ import annotations

import asyncio
import functools
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP: argon2id with m=19 MiB, t=2, p=1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MIN_LENGTH, MAX_LENGTH = 8, 128


@functools.cache
def common_passwords() -> frozenset[str]:
    text = resources.files("veza").joinpath("data/common-passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_problem(password: str, *, username: str, email: str) -> str | None:
    """Why this password may not be used, or None."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return f"must be {MIN_LENGTH} to {MAX_LENGTH} characters"
    lowered = password.lower()
    if lowered in (username.lower(), email.lower(), email.lower().partition("@")[0]):
        return "must not be your username or email"
    if lowered in common_passwords():
        return "is too common"
    return None


async def hash_password(password: str) -> str:
    # argon2 takes tens of milliseconds of CPU and releases the GIL: keep it off the event loop.
    return await asyncio.to_thread(HASHER.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(HASHER.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return HASHER.check_needs_rehash(password_hash)


@functools.cache
def _dummy_hash() -> str:
    return HASHER.hash("no such user: a hash to verify against, so that timing says nothing")


async def burn_verification_time(password: str) -> None:
    """Spend what a real verification would, for logins with an unknown email."""
    await verify_password(await asyncio.to_thread(_dummy_hash), password)
