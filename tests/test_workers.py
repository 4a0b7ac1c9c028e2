"""A request handler enqueues a job after commit; a burst worker runs it on the real Redis."""

import pytest
from aiohttp import web

from tests.factories import run_burst_worker
from veza.app import add_routes, create_app
from veza.constants import WORKER_HEARTBEAT_KEY
from veza.db import transaction
from veza.http import endpoint, ok
from veza.jobs import enqueue
from veza.keys import DB, REDIS

routes = web.RouteTableDef()


@routes.post("/beat")
@endpoint("Queue a heartbeat after a committed write")
async def queue_after_commit(request):
    async with transaction(request.app[DB]) as tx:
        await tx.execute("CREATE TEMP TABLE IF NOT EXISTS t (x int)")
        tx.after_commit(enqueue, request.app, "worker_heartbeat")
    return ok({"queued": True}, status=202)


@routes.post("/beat-then-fail")
@endpoint("A write that rolls back: nothing may be queued")
async def queue_then_fail(request):
    async with transaction(request.app[DB]) as tx:
        tx.after_commit(enqueue, request.app, "worker_heartbeat")
        raise web.HTTPConflict()


@pytest.fixture
async def client(aiohttp_client, settings):
    app = create_app(settings)
    add_routes(app, routes, "/api/v1/test")
    return await aiohttp_client(app)


async def test_job_enqueued_by_a_handler_runs_in_a_burst_worker(client, settings):
    resp = await client.post("/api/v1/test/beat")
    assert resp.status == 202
    redis = client.app[REDIS]
    await redis.delete(WORKER_HEARTBEAT_KEY)
    worker = await run_burst_worker(settings)
    assert worker.jobs_complete == 1
    assert worker.jobs_failed == 0
    assert await redis.get(WORKER_HEARTBEAT_KEY) is not None


async def test_a_rolled_back_transaction_queues_nothing(client, settings):
    resp = await client.post("/api/v1/test/beat-then-fail")
    assert resp.status == 409
    worker = await run_burst_worker(settings)
    assert worker.jobs_complete == 0
