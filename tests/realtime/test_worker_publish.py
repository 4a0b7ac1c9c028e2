"""A worker's publish() reaches a browser's socket on the web process."""

import uuid

from tests.factories import register, run_burst_worker, ws_receive, ws_subscribe
from veza.keys import ARQ
from veza.notifications.service import notify


async def notify_from_worker(ctx, user_id: str) -> None:
    await notify(ctx["app"], uuid.UUID(user_id), "test.from_worker", "Done in the background")


async def test_a_workers_notification_reaches_the_browser(client, settings):
    user = await register(client)
    ws = await client.ws_connect(f"/api/v1/ws?token={user['access_token']}")
    await ws_subscribe(ws, "notifications")

    await client.app[ARQ].enqueue_job("notify_from_worker", user["user"]["id"])
    worker = await run_burst_worker(settings, notify_from_worker)
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    event = await ws_receive(ws)
    assert event["event"] == "notification.created"
    assert event["data"]["title"] == "Done in the background"
    await ws.close()
