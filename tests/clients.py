"""Test servers that serve an app the way `veza serve` does: every request through the edge."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestServer

from veza.edge import EdgeRunner


class EdgeTestServer(TestServer):
    """aiohttp's TestServer on an EdgeRunner (veza.edge)."""

    async def _make_runner(self, **kwargs: Any) -> EdgeRunner:
        return EdgeRunner(self.app, **kwargs)
