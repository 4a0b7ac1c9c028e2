"""spawn(): work that outlives its request is referenced, its failure logged, drained on shutdown."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest
from aiohttp import web

from veza.keys import TASKS
from veza.tasks import Tasks, run_to_end, spawn, tasks_ctx


@pytest.fixture
async def app():
    app = web.Application()
    app[TASKS] = Tasks()
    app.cleanup_ctx.append(tasks_ctx)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    yield app, runner
    await runner.cleanup()


async def test_a_spawned_task_runs_to_its_end_without_a_reference_of_the_callers(app):
    app, _ = app
    done = asyncio.Event()

    async def work():
        await asyncio.sleep(0)
        gc.collect()  # the loop holds tasks weakly: without the app's reference this one could vanish here
        done.set()

    spawn(app, work())
    assert len(app[TASKS]) == 1
    await asyncio.wait_for(done.wait(), 5)
    await asyncio.sleep(0)
    assert len(app[TASKS]) == 0


async def test_a_failure_is_logged_with_its_traceback(app, caplog):
    app, _ = app

    async def broken():
        raise ValueError("the disk is full")

    with caplog.at_level(logging.ERROR, logger="veza.tasks"):
        task = spawn(app, broken())
        await asyncio.wait([task])
        await asyncio.sleep(0)
    [record] = [r for r in caplog.records if r.name == "veza.tasks"]
    assert "background task" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], ValueError)
    assert "the disk is full" in caplog.text and "Traceback" in caplog.text


async def test_shutdown_waits_for_running_tasks(app):
    app, runner = app
    release = asyncio.Event()
    finished = []

    async def slow():
        await release.wait()
        spawn(app, last())  # work started by work is drained too

    async def last():
        finished.append(True)

    spawn(app, slow())
    cleanup = asyncio.ensure_future(runner.cleanup())
    await asyncio.sleep(0.05)
    assert not cleanup.done()  # still waiting for `slow`
    release.set()
    await asyncio.wait_for(cleanup, 5)
    assert finished == [True]


async def test_shutdown_cancels_what_outlasts_the_grace(caplog):
    tasks = Tasks()
    cancelled = asyncio.Event()

    async def stuck():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    tasks.spawn(stuck())
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="veza.tasks"):
        await tasks.drain(grace=0.01)
    assert cancelled.is_set()
    assert len(tasks) == 0
    assert "cancelled at shutdown" in caplog.text


async def test_run_to_end_outlives_a_cancelled_caller_and_then_logs_its_failure(app, caplog):
    app, _ = app
    started, release = asyncio.Event(), asyncio.Event()

    async def cleanup_that_fails():
        started.set()
        await release.wait()
        raise RuntimeError("could not release")

    caller = asyncio.ensure_future(run_to_end(app, cleanup_that_fails()))
    await started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert len(app[TASKS]) == 1  # still running
    with caplog.at_level(logging.ERROR, logger="veza.tasks"):
        release.set()
        await app[TASKS].drain()
    assert "could not release" in caplog.text


async def test_run_to_end_leaves_the_failure_to_its_caller(app, caplog):
    app, _ = app

    async def refused():
        raise ValueError("422")

    with caplog.at_level(logging.ERROR, logger="veza.tasks"), pytest.raises(ValueError):
        await run_to_end(app, refused())
    await asyncio.sleep(0)
    assert caplog.records == []
