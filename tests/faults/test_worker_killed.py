"""`veza worker` SIGKILLed in the middle of each kind of job, then started again: every job completes, once.

The worker is a real subprocess on a private redis-server; the web app runs in the test (its webhook is
where the worker delivers the sandbox's events). A LockHook holds a row or table the job needs at a
known statement; once the worker's session waits there, the test kills the worker, drops the hold and
starts a new worker, which takes the killed job again when its lease (1 s here) runs out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from arq.constants import default_queue_name

from tests.factories import checkout, confirm_payment, connected_seller, make_product, make_user, paid_order
from tests.faults.processes import LockHook, worker_process
from tests.gear.helpers import create_item
from tests.outage import wait_until
from tests.payments.fake_stripe import FakeStripe
from veza.app import create_app
from veza.constants import WARRANTY_CHECK_JOB
from veza.keys import ARQ, CONNECT_GATEWAY, DB, STORAGE
from veza.payments import sandbox

pytestmark = pytest.mark.slow

DONE_WITHIN = 30
STRIPE_KEY = "sk_test_fault"  # seconds for the new worker to take the job again and finish it


@pytest.fixture
def app_settings(settings, redis_server, tmp_path):
    return settings.model_copy(update={"redis_url": redis_server.url, "data_dir": tmp_path / "data"})


@pytest.fixture
async def client(aiohttp_client, app_settings):
    return await aiohttp_client(create_app(app_settings))


@pytest.fixture
def worker(client, app_settings, tmp_path):
    public_url = str(client.make_url("")).rstrip("/")
    process = worker_process(app_settings.model_copy(update={"public_url": public_url}), tmp_path)
    yield process
    process.kill()


@pytest.fixture
def hook(app_settings):
    hook = LockHook(app_settings.database_url)
    yield hook
    hook.close()


async def kill_while_waiting(worker, hook: LockHook, query_like: str) -> None:
    """Start the worker, kill it once its session waits at `query_like`, drop the hold, start it again."""
    worker.start()
    await hook.waiting(query_like)
    worker.kill()
    hook.release()
    worker.start()


async def value(client, sql: str, *params):
    return await client.app[DB].fetch_val(sql, params)


async def until_equal(client, expected, sql: str, *params) -> None:
    async def reached() -> bool:
        return await value(client, sql, *params) == expected

    await wait_until(reached, timeout=DONE_WITHIN)


async def job_finished(client, job_id: str) -> bool:
    """Out of the queue: run to its end, and not queued for another try (a cron job keeps no result)."""
    return await client.app[ARQ].zscore(default_queue_name, job_id) is None


async def sale(client, *, connected: bool = True) -> tuple[dict, dict, dict]:
    """A seller (connected to the sandbox Connect gateway or not), a buyer, and the buyer's paid order."""
    seller = await connected_seller(client) if connected else await make_user(client)
    buyer = await make_user(client)
    order = await paid_order(client, buyer, await make_product(client, seller))
    return seller, buyer, order


async def test_a_transfer_killed_after_the_gateway_paid_is_paid_once(client, worker, hook):
    seller, _, order = await sale(client)
    transfer_id = await value(client, "SELECT id FROM seller_transfers WHERE order_id = %s", order["id"])
    # The gateway's transfer is made; the worker dies before it records it.
    hook.hold("SELECT 1 FROM seller_transfers WHERE id = %s FOR UPDATE", (transfer_id,))
    await kill_while_waiting(worker, hook, "%UPDATE seller_transfers%")
    assert await value(client, "SELECT count(*) FROM sandbox_transfers") == 1

    await until_equal(client, "completed", "SELECT status FROM seller_transfers WHERE id = %s", transfer_id)
    assert await value(client, "SELECT count(*) FROM sandbox_transfers") == 1
    paid = await value(client, "SELECT gateway_transfer_id FROM seller_transfers WHERE id = %s", transfer_id)
    assert paid == await value(client, "SELECT id FROM sandbox_transfers WHERE destination = %s", seller["account_id"])
    await until_equal(client, 1, "SELECT count(*) FROM notifications WHERE type = 'transfer.completed'")


async def test_a_reversal_killed_after_the_gateway_took_the_money_back_reverses_once(client, worker, hook):
    _, buyer, order = await sale(client)
    transfer_id = await value(client, "SELECT id FROM seller_transfers WHERE order_id = %s", order["id"])
    worker.start()  # pays the seller
    await until_equal(client, "completed", "SELECT status FROM seller_transfers WHERE id = %s", transfer_id)
    worker.kill()

    resp = await client.post(
        f"/api/v1/marketplace/orders/{order['id']}/refund",
        json={"reason": "Not as described"},
        headers=buyer["headers"],
    )
    assert resp.status == 200, await resp.text()
    # The refund's webhook, delivered here while no worker runs, queues the reversal.
    event_id = await value(client, "SELECT event_id FROM sandbox_events WHERE delivered_at IS NULL")
    assert await sandbox.deliver_event(client.app, event_id, str(client.make_url(sandbox.WEBHOOK_PATH)))
    assert await value(client, "SELECT status FROM seller_transfers WHERE id = %s", transfer_id) == "reversal_pending"
    # The gateway takes the money back; the worker dies before it records it.
    hook.hold("SELECT 1 FROM seller_transfers WHERE id = %s FOR UPDATE", (transfer_id,))
    await kill_while_waiting(worker, hook, "%UPDATE seller_transfers%")
    assert await value(client, "SELECT count(*) FROM sandbox_transfer_reversals") == 1

    await until_equal(client, "reversed", "SELECT status FROM seller_transfers WHERE id = %s", transfer_id)
    assert await value(client, "SELECT count(*) FROM sandbox_transfer_reversals") == 1
    assert await value(client, "SELECT status FROM orders WHERE id = %s", order["id"]) == "refunded"


async def test_an_invoice_killed_while_rendering_is_stored_once_under_its_one_number(client, worker, hook):
    _, buyer, order = await sale(client, connected=False)  # no transfer to send: the invoice alone
    number = await value(client, "SELECT number FROM invoices WHERE order_id = %s", order["id"])
    # The worker holds the invoice row (FOR UPDATE) and reads the order's lines when it dies.
    hook.hold("LOCK TABLE order_items IN ACCESS EXCLUSIVE MODE")
    await kill_while_waiting(worker, hook, "%FROM order_items%")

    await until_equal(client, True, "SELECT storage_key IS NOT NULL FROM invoices WHERE order_id = %s", order["id"])
    rows = await client.app[DB].fetch_all(
        "SELECT number, storage_key FROM invoices WHERE order_id = %s", (order["id"],)
    )
    assert [row["number"] for row in rows] == [number]
    assert [item.key async for item in client.app[STORAGE].scan("invoices/")] == [rows[0]["storage_key"]]
    resp = await client.get(f"/api/v1/marketplace/orders/{order['id']}/invoice", headers=buyer["headers"])
    assert resp.status == 200
    assert (await resp.read()).startswith(b"%PDF")


async def test_an_export_killed_after_storing_its_archive_is_ready_once(client, worker, hook):
    user = await make_user(client)
    resp = await client.post("/api/v1/users/me/export", headers=user["headers"])
    assert resp.status == 202, await resp.text()
    export_id = (await resp.json())["data"]["export_id"]
    # The archive is stored and the export marked ready, in a transaction the worker dies in: at the
    # ready notification.
    hook.hold("LOCK TABLE notifications IN EXCLUSIVE MODE")
    await kill_while_waiting(worker, hook, "%INSERT INTO notifications%")

    await until_equal(client, "ready", "SELECT status FROM data_exports WHERE id = %s", export_id)
    await until_equal(client, 1, "SELECT count(*) FROM notifications WHERE type = 'export.ready'")
    key = await value(client, "SELECT storage_key FROM data_exports WHERE id = %s", export_id)
    assert [item.key async for item in client.app[STORAGE].scan("")] == [key]
    assert await value(client, "SELECT count(*) FROM notifications WHERE user_id = %s", user["user"]["id"]) == 1


async def test_a_warranty_check_killed_between_two_items_notifies_each_once(client, worker, hook):
    user = await make_user(client)
    today = datetime.now(UTC).date()
    first = await create_item(client, user, warranty_expires_at=str(today + timedelta(days=5)))
    second = await create_item(client, user, name="U87", warranty_expires_at=str(today + timedelta(days=6)))
    # The first item is notified (committed); the worker dies recording the second's notice.
    hook.hold(
        "INSERT INTO gear_warranty_notices (item_id, window_days, expires_at) VALUES (%s, 7, %s)",
        (second["id"], today + timedelta(days=6)),
    )
    await client.app[ARQ].enqueue_job(WARRANTY_CHECK_JOB, _job_id="warranty-check-now")
    await kill_while_waiting(worker, hook, "%INSERT INTO gear_warranty_notices%")

    await until_equal(client, 2, "SELECT count(*) FROM notifications")
    await wait_until(lambda: job_finished(client, "warranty-check-now"), timeout=DONE_WITHIN)
    per_item = await client.app[DB].fetch_all(
        "SELECT data->>'gear_id' AS item, count(*) FROM notifications GROUP BY 1 ORDER BY 1"
    )
    assert {row["item"]: row["count"] for row in per_item} == {first["id"]: 1, second["id"]: 1}


async def test_a_webhook_delivery_killed_mid_request_completes_the_order_once(client, worker, hook):
    seller = await connected_seller(client)
    buyer = await make_user(client)
    created = await checkout(client, buyer, await make_product(client, seller))
    order_id = created["order"]["id"]
    event_id = await confirm_payment(client, buyer, created["payment"]["payment_id"])
    # The worker's POST reaches the webhook, which waits for the order row; the worker dies meanwhile.
    hook.hold("SELECT 1 FROM orders WHERE id = %s FOR UPDATE", (order_id,))
    await kill_while_waiting(worker, hook, "%orders%")

    await until_equal(client, True, "SELECT delivered_at IS NOT NULL FROM sandbox_events WHERE event_id = %s", event_id)
    assert await value(client, "SELECT status FROM orders WHERE id = %s", order_id) == "completed"
    assert await value(client, "SELECT count(*) FROM invoices WHERE order_id = %s", order_id) == 1
    assert await value(client, "SELECT count(*) FROM seller_transfers WHERE order_id = %s", order_id) == 1
    assert await value(client, "SELECT count(*) FROM licenses") == 1
    await until_equal(client, "completed", "SELECT status FROM seller_transfers WHERE order_id = %s", order_id)
    assert await value(client, "SELECT count(*) FROM sandbox_transfers") == 1
    kinds = await client.app[DB].fetch_all("SELECT type, count(*) FROM notifications GROUP BY type")
    assert all(row["count"] == 1 for row in kinds), kinds


@pytest.fixture
async def fake_stripe(aiohttp_server):
    fake = FakeStripe(STRIPE_KEY)
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    fake.release()


async def test_a_stripe_transfer_killed_after_stripe_paid_is_paid_once(
    aiohttp_client, app_settings, fake_stripe, hook, tmp_path
):
    stripe = {"connect_gateway": "stripe", "stripe_secret_key": STRIPE_KEY, "stripe_api_base": fake_stripe.url}
    client = await aiohttp_client(create_app(app_settings.model_copy(update=stripe)))
    worker = worker_process(app_settings, tmp_path, **stripe)
    try:
        seller = await make_user(client)
        account = await client.app[CONNECT_GATEWAY].create_account(
            email=seller["user"]["email"], idempotency_key=f"account-{seller['user']['id']}"
        )
        fake_stripe.complete_onboarding(account.account_id)
        await client.app[DB].execute(
            "INSERT INTO connect_accounts (user_id, gateway, account_id, connected, connected_at) "
            "VALUES (%s, 'stripe', %s, true, now())",
            (seller["user"]["id"], account.account_id),
        )
        order = await paid_order(client, await make_user(client), await make_product(client, seller))
        transfer_id = await value(client, "SELECT id FROM seller_transfers WHERE order_id = %s", order["id"])
        # Stripe makes the transfer; the worker dies before it records it.
        hook.hold("SELECT 1 FROM seller_transfers WHERE id = %s FOR UPDATE", (transfer_id,))
        await kill_while_waiting(worker, hook, "%UPDATE seller_transfers%")
        assert len(fake_stripe.transfers) == 1

        await until_equal(client, "completed", "SELECT status FROM seller_transfers WHERE id = %s", transfer_id)
        assert len(fake_stripe.transfers) == 1
        [paid] = fake_stripe.transfers
        assert (
            await value(client, "SELECT gateway_transfer_id FROM seller_transfers WHERE id = %s", transfer_id) == paid
        )
        posts = fake_stripe.posts("/v1/transfers")
        assert len({post.headers["Idempotency-Key"] for post in posts}) == 1 < len(posts)  # asked again, paid once
    finally:
        worker.kill()
