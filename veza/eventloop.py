"""The event loop the web process and the worker run on: asyncio's own, or uvloop with UVLOOP=true.

aiohttp's deployment guide recommends uvloop, and the benchmarks report Veza on both loops against a
bare aiohttp app on both (tests/bench/http.py). It is not the default: while PostgreSQL refuses
connections, aiopg's connect fails under uvloop with a RuntimeError on a closed handle (a 500, not
the 503 envelope) and leaks the connection (tests/faults/test_postgres_killed.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory(use_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None for asyncio's default loop."""
    if not use_uvloop:
        return None
    import uvloop

    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], *, use_uvloop: bool) -> T:
    """asyncio.run(main) on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory(use_uvloop)) as runner:
        return runner.run(main)
