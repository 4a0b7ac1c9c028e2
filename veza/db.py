"""PostgreSQL access: the aiopg pool, transactions, and fetch helpers.

This is the only module that imports aiopg. Queries use psycopg2 parameters
(``%s`` or ``%(name)s``) and rows come back as plain dicts.

    async with transaction(db) as tx:
        row = await tx.fetch_one("SELECT ...", (a, b))
        tx.after_commit(publish, app, "live", event)   # runs only once COMMIT succeeded
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiopg
import psycopg2
import psycopg2.errors
import psycopg2.extras

log = logging.getLogger(__name__)

Params = Sequence[Any] | dict[str, Any] | None
Row = dict[str, Any]

# Re-exported so that services can catch database errors without importing psycopg2.
UniqueViolation = psycopg2.errors.UniqueViolation
IntegrityError = psycopg2.IntegrityError


class Queries:
    """fetch_one / fetch_all / fetch_val / execute over some connection."""

    async def _run(self, sql: str, params: Params, fetch: str) -> Any:
        raise NotImplementedError

    async def fetch_one(self, sql: str, params: Params = None) -> Row | None:
        return await self._run(sql, params, "one")

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        return await self._run(sql, params, "all")

    async def fetch_val(self, sql: str, params: Params = None) -> Any:
        row = await self._run(sql, params, "one")
        return None if row is None else next(iter(row.values()))

    async def execute(self, sql: str, params: Params = None) -> int:
        """Run a statement; return the number of rows it touched."""
        return await self._run(sql, params, "rowcount")


async def _execute(conn: aiopg.Connection, sql: str, params: Params, fetch: str) -> Any:
    async with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        await cur.execute(sql, params)
        if fetch == "one":
            row = await cur.fetchone()
            return None if row is None else dict(row)
        if fetch == "all":
            return [dict(row) for row in await cur.fetchall()]
        return cur.rowcount


class Database(Queries):
    """The pool. Single statements run in autocommit; several go in a transaction."""

    def __init__(self, pool: aiopg.Pool) -> None:
        self.pool = pool

    async def _run(self, sql: str, params: Params, fetch: str) -> Any:
        async with self.pool.acquire() as conn:
            return await _execute(conn, sql, params, fetch)

    async def close(self) -> None:
        self.pool.close()
        await self.pool.wait_closed()


class Session(Queries):
    """Queries on one connection of their own, each committed as it runs."""

    def __init__(self, conn: aiopg.Connection) -> None:
        self.conn = conn

    async def _run(self, sql: str, params: Params, fetch: str) -> Any:
        return await _execute(self.conn, sql, params, fetch)


class Transaction(Session):
    def __init__(self, conn: aiopg.Connection) -> None:
        super().__init__(conn)
        self._after_commit: list[tuple[Callable[..., Awaitable[Any]], tuple[Any, ...]]] = []

    def after_commit(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run ``await fn(*args)`` once the transaction has committed; never on rollback."""
        self._after_commit.append((fn, args))

    async def _run_after_commit(self) -> None:
        for fn, args in self._after_commit:
            try:
                await fn(*args)
            except Exception:
                # The data is committed; the caller's answer must not become an error.
                log.exception("after-commit action %s failed", getattr(fn, "__name__", fn))


def set_clause(fields: dict[str, Any], allowed: frozenset[str]) -> str:
    """`a = %(a)s, b = %(b)s, updated_at = now()` for an UPDATE of `fields`.

    Column names come from code, never from a client: any outside `allowed` is a bug.
    """
    if not fields.keys() <= allowed:
        raise ValueError(f"not updatable: {sorted(fields.keys() - allowed)}")
    return "".join(f"{column} = %({column})s, " for column in fields) + "updated_at = now()"


async def connect(dsn: str, minsize: int = 1, maxsize: int = 10) -> Database:
    pool = await aiopg.create_pool(
        dsn,
        minsize=minsize,
        maxsize=maxsize,
        enable_hstore=False,
        options="-c timezone=UTC",
    )
    return Database(pool)


@asynccontextmanager
async def transaction(db: Database, *, isolation: str | None = None):
    """Open a transaction; commit on success, roll back on any exception."""
    async with db.pool.acquire() as conn:
        tx = Transaction(conn)
        begin = f"BEGIN ISOLATION LEVEL {isolation}" if isolation else "BEGIN"
        await tx.execute(begin)
        try:
            yield tx
        except BaseException:
            try:
                await tx.execute("ROLLBACK")
            except Exception:
                conn.close()  # unusable: never hand it back to the pool mid-transaction
            raise
        await tx.execute("COMMIT")
    await tx._run_after_commit()


@asynccontextmanager
async def session(db: Database):
    """One connection for long work that keeps state in its session (temporary tables, advisory locks).

    The connection is closed afterwards rather than handed back to the pool, so that none of that
    state outlives the block, however it ends.
    """
    async with db.pool.acquire() as conn:
        try:
            yield Session(conn)
        finally:
            conn.close()
