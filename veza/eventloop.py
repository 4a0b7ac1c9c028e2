"""The event loop the web process and the worker run on: asyncio's own, or uvloop with UVLOOP=true.

aiohttp's deployment guide recommends uvloop, and it is faster (the benchmarks report both loops),
but when a process runs out of file descriptors libuv reports the failed accept as fatal and uvloop
closes the listening socket for good: the web process stops taking connections. asyncio's loop
retries the accept and the server recovers (tests/test_serve.py), so that stays the default.
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
