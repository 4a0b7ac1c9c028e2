"""A request handler enqueues a job after commit; a burst worker runs it on the real Redis."""

import uuid

import pytest
from aiohttp import web

from tests.factories import bearer, run_burst_worker
from veza.app import add_routes, create_app
from veza.db import transaction
from veza.http import endpoint, ok
from veza.jobs import enqueue
from veza.keys import DB, REDIS

routes = web.RouteTableDef()
RECORD_KEY = "test:recorded"


async def record(ctx, value: str) -> str:
    """A job of the test's own: leaves `value` where the test can see it."""
    await ctx["app"][REDIS].rpush(RECORD_KEY, value)
    return value


@routes.post("/record/{value}")
@endpoint("Queue a job after a committed write", auth="public")
async def queue_after_commit(request):
    async with transaction(request.app[DB]) as tx:
        await tx.execute("SELECT 1")
        tx.after_commit(enqueue, request.app, "record", request.match_info["value"])
    return ok({"queued": True}, status=202)


@routes.post("/record-then-fail/{value}")
@endpoint("A write that rolls back: nothing may be queued", auth="public")
async def queue_then_fail(request):
    async with transaction(request.app[DB]) as tx:
        tx.after_commit(enqueue, request.app, "record", request.match_info["value"])
        raise web.HTTPConflict()


@pytest.fixture
async def client(aiohttp_client, settings):
    app = create_app(settings)
    add_routes(app, routes, "/api/v1/test")
    return await aiohttp_client(app)


async def test_job_enqueued_by_a_handler_runs_in_a_burst_worker(client, settings):
    value = uuid.uuid4().hex
    resp = await client.post(f"/api/v1/test/record/{value}")
    assert resp.status == 202
    worker = await run_burst_worker(settings, record)
    assert worker.jobs_failed == 0
    assert await client.app[REDIS].lrange(RECORD_KEY, 0, -1) == [value]


async def test_a_rolled_back_transaction_queues_nothing(client, settings):
    resp = await client.post("/api/v1/test/record-then-fail/never")
    assert resp.status == 409
    await run_burst_worker(settings, record)
    assert await client.app[REDIS].lrange(RECORD_KEY, 0, -1) == []


async def test_the_worker_reports_its_heartbeat(client, settings):
    from veza.constants import WORKER_HEARTBEAT_KEY

    assert await client.app[REDIS].get(WORKER_HEARTBEAT_KEY) is None
    await run_burst_worker(settings)
    deep = await client.get("/api/v1/health/deep", headers=bearer(settings.metrics_token))
    assert (await deep.json())["data"]["checks"]["worker"]["status"] == "ok"
