"""The login lockout: five failed passwords in 15 minutes lock an email for 30 minutes.

An attempt is counted (one atomic MULTI in Redis) before its password is
checked, and only the first MAX_FAILURES attempts of a window are checked at
all: concurrent attempts cannot all pass a "not locked yet" test together.
A success clears the count. The key is the address asked for, whether or not
an account has it: locking only real accounts would tell which are registered.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from veza.constants import LOGIN_ATTEMPTS_PREFIX
from veza.errors import Locked
from veza.ratelimit import count_hit

MAX_FAILURES, FAILURE_WINDOW, LOCK_SECONDS = 5, 15 * 60, 30 * 60
LOCKED = "Too many failed logins; try again later"


@dataclass(frozen=True)
class Attempt:
    key: str
    number: int  # its place among the window's attempts, counted before the check


def attempts_key(email: str) -> str:
    return LOGIN_ATTEMPTS_PREFIX + email.strip().lower()


async def begin_attempt(redis: Redis, email: str) -> Attempt:
    """Count an attempt at `email`; Locked when the window has used up its checks."""
    key = attempts_key(email)
    number, seconds_left = await count_hit(redis, key, FAILURE_WINDOW)
    if number > MAX_FAILURES:
        raise Locked(LOCKED, headers={"Retry-After": str(seconds_left)})
    return Attempt(key, number)


async def record_failure(redis: Redis, attempt: Attempt) -> None:
    """The attempt's password was wrong; the last allowed one locks the email (raises Locked)."""
    if attempt.number >= MAX_FAILURES:
        await redis.expire(attempt.key, LOCK_SECONDS)
        raise Locked(LOCKED, headers={"Retry-After": str(LOCK_SECONDS)})


async def record_success(redis: Redis, attempt: Attempt) -> None:
    await redis.delete(attempt.key)
