"""The real `veza serve` and `veza worker` a fault test runs on its module's `app_settings`, with the
module's TIMEOUTS (short timeouts of the dependency it breaks), and a client session on the web process."""

from __future__ import annotations

import aiohttp
import pytest

from tests.faults.processes import WebProcess, worker_process


@pytest.fixture
async def web(app_settings, tmp_path, request):
    process = WebProcess(app_settings, tmp_path, **request.module.TIMEOUTS)
    process.start()
    yield process
    process.kill()


@pytest.fixture
def worker(app_settings, web, tmp_path, request):
    process = worker_process(
        app_settings.model_copy(update={"public_url": web.url}), tmp_path, **request.module.TIMEOUTS
    )
    process.start()
    yield process
    process.kill()


@pytest.fixture
async def http(web):
    await web.wait_listening()
    async with aiohttp.ClientSession(base_url=web.url, timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session
