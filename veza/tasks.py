"""Work that outlives the request (or callback) that started it.

``spawn(app, coroutine)`` runs it as a task the app keeps a reference to (the
event loop keeps only a weak one, so an unreferenced task may vanish
mid-run), logs its failure with the traceback, and waits for it on shutdown
before the database and Redis close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

from aiohttp import web

from veza.keys import TASKS

log = logging.getLogger(__name__)

T = TypeVar("T")
DRAIN_SECONDS = 10.0  # on shutdown, how long running tasks get to finish before they are cancelled


class Tasks:
    """A set of running tasks: each one referenced until it ends, its failure logged."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._running)

    def spawn(self, coro: Coroutine[Any, Any, T], *, report: bool = True) -> asyncio.Task[T]:
        """Start `coro`; with `report=False` its failure is left to whoever awaits the task."""
        task = asyncio.ensure_future(coro)
        self._running.add(task)
        task.add_done_callback(self._log_failure if report else self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: its awaiter answers it, asyncio need not warn of it

    def report_when_done(self, task: asyncio.Task[Any]) -> None:
        """Log `task`'s failure after all: whoever was to await it has gone."""
        task.remove_done_callback(self._forget)
        task.add_done_callback(self._log_failure)

    def _log_failure(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("background task %s failed", task.get_coro(), exc_info=error)

    async def drain(self, grace: float = DRAIN_SECONDS) -> None:
        """Wait for the running tasks (those they start too), then cancel what is left after `grace` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._running and (left := deadline - loop.time()) > 0:
            await asyncio.wait(set(self._running), timeout=left)
        leftover = set(self._running)
        for task in leftover:
            log.warning("background task %s cancelled at shutdown", task.get_coro())
            task.cancel()
        if leftover:
            await asyncio.gather(*leftover, return_exceptions=True)


def spawn(app: web.Application, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Run `coro` beyond the caller's life: referenced, its failure logged, drained on shutdown."""
    return app[TASKS].spawn(coro)


async def run_to_end(app: web.Application, coro: Coroutine[Any, Any, T]) -> T:
    """Await `coro`; if the caller is cancelled (the client left), `coro` still runs to its end."""
    tasks = app[TASKS]
    task = tasks.spawn(coro, report=False)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            tasks.report_when_done(task)
        raise


async def tasks_ctx(app: web.Application) -> AsyncIterator[None]:
    """Registered after the resources' contexts, so it drains before they close."""
    yield
    await app[TASKS].drain()
