"""Password hashing (argon2id, OWASP parameters) and the strength rules."""

from __future__ import annotations

import asyncio
import functools
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from veza.settings import Settings

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


class Passwords:
    """argon2id at the parameters the settings give (OWASP's by default: m=19 MiB, t=2, p=1).

    Hashes made with other parameters still verify; login rehashes them at these.
    """

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        self._dummy_hash: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        return cls(settings.password_hash_time_cost, settings.password_hash_memory_kib)

    async def hash(self, password: str) -> str:
        # argon2 takes tens of milliseconds of CPU and releases the GIL: keep it off the event loop.
        return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self.hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)

    async def burn_verification_time(self, password: str) -> None:
        """Spend what a real verification would, for logins with an unknown email."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash("no such user: a hash to verify against, so that timing says nothing")
        await self.verify(self._dummy_hash, password)
