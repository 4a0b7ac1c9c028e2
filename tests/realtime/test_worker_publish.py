"""A worker's publish() reaches a browser's socket on the web process."""

import uuid

from arq.worker import Worker

from tests.factories import register, ws_receive, ws_subscribe
from veza.keys import ARQ
from veza.notifications.service import notify
from veza.redis import arq_settings
from workers.settings import WorkerSettings


async def notify_from_worker(ctx, user_id: str) -> None:
    await notify(ctx["app"], uuid.UUID(user_id), "test.from_worker", "Done in the background")


async def test_a_workers_notification_reaches_the_browser(client, settings):
    user = await register(client)
    ws = await client.ws_connect(f"/api/v1/ws?token={user['access_token']}")
    await ws_subscribe(ws, "notifications")

    await client.app[ARQ].enqueue_job("notify_from_worker", user["user"]["id"])
    worker = Worker(
        functions=[*WorkerSettings.functions, notify_from_worker],
        on_startup=WorkerSettings.on_startup,
        on_shutdown=WorkerSettings.on_shutdown,
        redis_settings=arq_settings(settings.redis_url),
        ctx={"settings": settings},
        burst=True,
        poll_delay=0,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    assert worker.jobs_complete == 1
    event = await ws_receive(ws)
    assert event["event"] == "notification.created"
    assert event["data"]["title"] == "Done in the background"
    await ws.close()
