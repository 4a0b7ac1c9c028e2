"""Which dependency an exception says is down: PostgreSQL, Redis or S3.

Only errors that mean "unreachable, gone, or too slow" count: a bad query, a
missing key or a bug stays what it is (and a 500 stays a 500).
"""

from __future__ import annotations

from veza.db import database_unreachable
from veza.redis import redis_unreachable
from veza.storage.s3 import s3_unreachable

_CHECKS = (("database", database_unreachable), ("redis", redis_unreachable), ("storage", s3_unreachable))


def down_dependency(exc: BaseException) -> str | None:
    """The name of the dependency `exc` reports as unavailable, or None."""
    for name, unreachable in _CHECKS:
        if unreachable(exc):
            return name
    return None
