"""The event loop the web process and the worker run on: uvloop, as aiohttp's deployment guide
recommends, or asyncio's own with UVLOOP=false. The benchmarks report Veza on both loops against a
bare aiohttp app on both (tests/bench/http.py).

uvloop can be left holding a closed poll handle under a descriptor's number: after a refused
PostgreSQL connect, the next `add_reader` for a new descriptor with that number failed with a
RuntimeError ("the handler is closed"). While PostgreSQL refused connections, every other aiopg
connect failed that way, a 500 instead of the 503 envelope, and leaked the connection
(tests/faults/test_postgres_killed.py). `Loop` drops the closed handle and registers again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


@cache
def uvloop_class() -> type[asyncio.AbstractEventLoop]:
    import uvloop

    class Loop(uvloop.Loop):
        """uvloop's loop, registering again a descriptor whose number uvloop holds a closed handle for."""

        def add_reader(self, fd: Any, callback: Callable[..., object], *args: Any) -> None:
            try:
                super().add_reader(fd, callback, *args)
            except RuntimeError:
                super().remove_reader(fd)  # forgets the closed handle
                super().add_reader(fd, callback, *args)

        def add_writer(self, fd: Any, callback: Callable[..., object], *args: Any) -> None:
            try:
                super().add_writer(fd, callback, *args)
            except RuntimeError:
                super().remove_writer(fd)
                super().add_writer(fd, callback, *args)

    return Loop


def loop_factory(use_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """A factory of uvloop loops (`Loop`), or None for asyncio's default loop."""
    return uvloop_class() if use_uvloop else None


def run(main: Coroutine[Any, Any, T], *, use_uvloop: bool) -> T:
    """asyncio.run(main) on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory(use_uvloop)) as runner:
        return runner.run(main)
