"""PostgreSQL access: the aiopg pool, transactions, and fetch helpers.

This is the only module that imports aiopg. Queries use psycopg2 parameters
(``%s`` or ``%(name)s``) and rows come back as plain dicts.

    async with transaction(db) as tx:
        row = await tx.fetch_one("SELECT ...", (a, b))
        tx.after_commit(publish, app, "live", event)   # runs only once COMMIT succeeded
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiopg
import psycopg2
import psycopg2.errors
import psycopg2.extras

from veza.errors import NotFound

log = logging.getLogger(__name__)

Params = Sequence[Any] | dict[str, Any] | None
Row = dict[str, Any]

# Re-exported so that services can catch database errors without importing psycopg2.
UniqueViolation = psycopg2.errors.UniqueViolation
IntegrityError = psycopg2.IntegrityError
OperationalError = psycopg2.OperationalError  # the server is down, went away, or cancelled the statement

# The client waits this much longer than statement_timeout for an answer, so that a slow
# statement is cancelled by PostgreSQL (the connection stays usable) and only a silent server
# makes the client give up (aiopg then closes the connection).
SERVER_CANCEL_GRACE = 1.0


class DatabaseUnavailable(Exception):
    """PostgreSQL did not answer in time, or no connection could be had in time."""


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` means PostgreSQL is down, unreachable or too slow (not a bad query)."""
    if isinstance(exc, DatabaseUnavailable | psycopg2.InterfaceError):
        return True
    if isinstance(exc, psycopg2.OperationalError):
        # No SQLSTATE: the client could not open or lost the connection. Classes 08 (connection),
        # 53 (insufficient resources: too many connections, disk full), 57 (shutdown, cannot
        # connect now, statement timeout). Not 40 (serialization) or 55 (lock not available).
        return exc.pgcode is None or exc.pgcode[:2] in {"08", "53", "57"}
    return False


def _cancelled_by_aiopg() -> bool:
    """aiopg turns PostgreSQL's statement timeout (QueryCanceled) into a CancelledError of its own.

    A real cancellation of the task (a client gone, an outer asyncio.timeout) is counted by
    Task.cancelling(); aiopg's is not.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() == 0


class _AiopgStatementTimeoutFilter(logging.Filter):
    """aiopg also reports each statement timeout to the event loop's exception handler (an
    ERROR with a traceback); the request's own answer (503 and one warning line) says it."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, psycopg2.errors.QueryCanceled)


_STATEMENT_TIMEOUT_FILTER = _AiopgStatementTimeoutFilter()


class Executor:
    """Runs SQL over some connection (the pool, a session, a transaction)."""

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

    async def fetch_found(self, sql: str, params: Params, not_found: str) -> Row:
        """The row the statement returns; none is a NotFound with the message `not_found`."""
        row = await self._run(sql, params, "one")
        if row is None:
            raise NotFound(not_found)
        return row

    async def fetch_page(
        self,
        columns: str,
        source: str,
        params: dict[str, Any] | None = None,
        *,
        order_by: str,
        limit: int,
        offset: int,
    ) -> tuple[list[Row], int]:
        """One page of `SELECT columns FROM source ORDER BY order_by`, and how many rows there are in all.

        `source` is the FROM clause with its joins and WHERE; `params` are named (`%(name)s`). The SQL text
        comes from the queries modules' constants; every value is a bound parameter.
        """
        params = {**(params or {}), "page_limit": limit, "page_offset": offset}
        select = f"SELECT {columns} FROM {source} ORDER BY {order_by}"  # noqa: S608
        rows = await self._run(f"{select} LIMIT %(page_limit)s OFFSET %(page_offset)s", params, "all")
        if len(rows) < limit and (rows or offset == 0):
            return rows, offset + len(rows)  # the last page: nothing to count
        row = await self._run(f"SELECT count(*) AS total FROM {source}", params, "one")  # noqa: S608
        return rows, row["total"]


async def _execute(conn: aiopg.Connection, sql: str, params: Params, fetch: str) -> Any:
    try:
        async with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            await cur.execute(sql, params)
            if fetch == "one":
                row = await cur.fetchone()
                return None if row is None else dict(row)
            if fetch == "all":
                return [dict(row) for row in await cur.fetchall()]
            return cur.rowcount
    except TimeoutError:
        raise DatabaseUnavailable(f"no answer from PostgreSQL within {conn.timeout:g}s") from None
    except asyncio.CancelledError:
        if _cancelled_by_aiopg():
            raise DatabaseUnavailable("statement cancelled by statement_timeout") from None
        raise


class Database(Executor):
    """The pool. Single statements run in autocommit; several go in a transaction."""

    def __init__(self, pool: aiopg.Pool, connect_timeout: float) -> None:
        self.pool = pool
        self.connect_timeout = connect_timeout

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[aiopg.Connection]:
        """A pooled connection, opened or freed within the connect timeout or DatabaseUnavailable."""
        try:
            async with asyncio.timeout(self.connect_timeout):
                conn = await self.pool.acquire()
        except TimeoutError:
            raise DatabaseUnavailable(f"no database connection within {self.connect_timeout:g}s") from None
        try:
            yield conn
        finally:
            # A connection that timed out was closed by aiopg: the pool drops it instead of reusing it.
            await self.pool.release(conn)

    async def _run(self, sql: str, params: Params, fetch: str) -> Any:
        async with self.connection() as conn:
            return await _execute(conn, sql, params, fetch)

    async def close(self) -> None:
        self.pool.close()
        await self.pool.wait_closed()


class Session(Executor):
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
            except Exception as exc:
                # The data is committed; the caller's answer must not become an error.
                from veza.outages import down_dependency  # veza.outages imports this module

                name = getattr(fn, "__name__", fn)
                if dependency := down_dependency(exc):
                    log.warning("after-commit action %s failed: %s unavailable (%s)", name, dependency, exc)
                else:
                    log.exception("after-commit action %s failed", name)


def escape_like(text: str) -> str:
    """`text` for a LIKE / ILIKE pattern, matched literally (backslash is the default escape character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def set_clause(fields: dict[str, Any], allowed: frozenset[str]) -> str:
    """`a = %(a)s, b = %(b)s, updated_at = now()` for an UPDATE of `fields`.

    Column names come from code, never from a client: any outside `allowed` is a bug.
    """
    if not fields.keys() <= allowed:
        raise ValueError(f"not updatable: {sorted(fields.keys() - allowed)}")
    return "".join(f"{column} = %({column})s, " for column in fields) + "updated_at = now()"


async def connect(
    dsn: str,
    minsize: int = 1,
    maxsize: int = 10,
    *,
    connect_timeout: float = 3.0,
    statement_timeout: float = 5.0,
) -> Database:
    """The pool. A statement running longer than `statement_timeout` seconds is cancelled by
    PostgreSQL; a server that does not answer at all is given up a moment later."""
    logging.getLogger("asyncio").addFilter(_STATEMENT_TIMEOUT_FILTER)
    try:
        async with asyncio.timeout(connect_timeout):
            pool = await aiopg.create_pool(
                dsn,
                minsize=minsize,
                maxsize=maxsize,
                timeout=statement_timeout + SERVER_CANCEL_GRACE,
                enable_hstore=False,
                options=f"-c timezone=UTC -c statement_timeout={round(statement_timeout * 1000)}",
            )
    except TimeoutError:
        raise DatabaseUnavailable(f"no database connection within {connect_timeout:g}s") from None
    return Database(pool, connect_timeout)


@asynccontextmanager
async def transaction(db: Database):
    """Open a transaction; commit on success, roll back on any exception."""
    async with db.connection() as conn:
        tx = Transaction(conn)
        await tx.execute("BEGIN")
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
