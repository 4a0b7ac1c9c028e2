"""`veza worker` rides out a Redis outage: killed and restarted on the same port, the worker
resumes its queue without being restarted itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from arq.jobs import Job, JobStatus

from tests.outage import wait_until
from veza.redis import connect_arq

pytestmark = pytest.mark.slow


@pytest.fixture
def worker(settings, redis_server, tmp_path):
    """`python -m veza worker` on the private Redis, its log lines in a file."""
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "VEZA_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": redis_server.url,
        "REDIS_TIMEOUT": "0.5",
        "REDIS_CONNECT_TIMEOUT": "0.5",
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "INFO",
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "veza", "worker"], env=env, stdout=log, stderr=log)
    process.log_path = log_path
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


async def run_job(settings, redis_url: str, job_id: str) -> None:
    """Queue the heartbeat job under `job_id` and wait until the worker has completed it."""
    pool = connect_arq(settings.model_copy(update={"redis_url": redis_url}))
    try:
        job = await pool.enqueue_job("worker_heartbeat", _job_id=job_id)
        assert job is not None
        await wait_until(lambda: _complete(job), timeout=30)
    finally:
        await pool.aclose()


async def _complete(job: Job) -> bool:
    return await job.status() == JobStatus.complete


async def test_the_worker_resumes_after_redis_is_killed_and_restarted(settings, redis_server, worker):
    await run_job(settings, redis_server.url, "before-the-outage")

    redis_server.kill()
    # One line per attempt to reconnect; two attempts, so the outage outlasts the first retry.
    await wait_until(lambda: worker.log_path.read_bytes().count(b"Redis unavailable") >= 2, timeout=20)
    assert worker.poll() is None, worker.log_path.read_text()

    redis_server.start()  # the same port, empty
    await run_job(settings, redis_server.url, "after-the-outage")
    assert worker.poll() is None

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0, worker.log_path.read_text()
