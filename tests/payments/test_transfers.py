"""Seller transfers on the sandbox Connect gateway: sent by the worker, retried on schedule, reversed."""

import asyncio
import os
import signal
import sys
from datetime import timedelta

import pytest
from arq.constants import in_progress_key_prefix

from tests.factories import connected_seller, make_product, make_user, paid_order, run_burst_worker
from tests.payments.helpers import worker_settings
from veza.db import transaction
from veza.keys import ARQ, CONNECT_GATEWAY, DB, SETTINGS
from veza.payments import payouts
from veza.payments.sandbox_connect import fail_next_transfers
from veza.payments.transfer_queries import transition
from workers.payments import sweep_transfers

BASE = 60.0  # TRANSFER_RETRY_BASE_SECONDS's default, the tests' setting


async def transfers_of(db, order_id) -> list[dict]:
    return await db.fetch_all(
        "SELECT *, next_retry_at - now() AS wait FROM seller_transfers WHERE order_id = %s ORDER BY amount_cents DESC",
        (order_id,),
    )


async def make_due(db, transfer_id) -> None:
    """Time passes: the transfer's next try is due."""
    await db.execute(
        "UPDATE seller_transfers SET next_retry_at = now() - interval '1 second' WHERE id = %s", (transfer_id,)
    )


async def sweep(client) -> dict[str, int]:
    return await sweep_transfers({"app": client.app})


async def notes(db, type_prefix: str) -> list[tuple[str, str]]:
    rows = await db.fetch_all(
        "SELECT user_id::text, type FROM notifications WHERE type LIKE %s ORDER BY type, user_id", (f"{type_prefix}%",)
    )
    return sorted((row["user_id"], row["type"]) for row in rows)


async def one_sale(client, seller=None) -> tuple[dict, dict]:
    """A connected seller (unless given) and a paid order of one of their products (2999: 2699 after the fee)."""
    seller = seller or await connected_seller(client)
    order = await paid_order(client, await make_user(client), await make_product(client, seller))
    (transfer,) = await transfers_of(client.app[DB], order["id"])
    return seller, transfer


async def test_an_order_for_two_sellers_pays_each_their_share_once(client):
    db = client.app[DB]
    alice, bob = await connected_seller(client), await connected_seller(client)
    products = [await make_product(client, alice, price_cents=2999), await make_product(client, bob, price_cents=1505)]
    order = await paid_order(client, await make_user(client), *products)
    assert [(t["status"], t["amount_cents"], t["platform_fee_cents"]) for t in await transfers_of(db, order["id"])] == [
        ("pending", 2699, 300),
        ("pending", 1354, 151),  # 150.5 rounds half up
    ]

    await run_burst_worker(worker_settings(client))

    transfers = await transfers_of(db, order["id"])
    assert [(t["status"], t["retry_count"], t["last_error"]) for t in transfers] == [("completed", 0, None)] * 2
    books = await db.fetch_all("SELECT * FROM sandbox_transfers ORDER BY amount DESC")
    fields = ("id", "destination", "amount", "currency", "transfer_group", "idempotency_key")
    assert [tuple(book[field] for field in fields) for book in books] == [
        (t["gateway_transfer_id"], seller["account_id"], amount, "EUR", str(order["id"]), f"transfer-{t['id']}")
        for t, seller, amount in zip(transfers, [alice, bob], [2699, 1354], strict=True)
    ]
    assert await notes(db, "transfer.") == sorted(
        [(alice["user"]["id"], "transfer.completed"), (bob["user"]["id"], "transfer.completed")]
    )

    # the job and the sweep run again: nothing is sent twice
    for transfer in transfers:
        await payouts.queue_transfer(client.app, transfer["id"], 0)
    assert await sweep(client) == {"transfers": 0, "reversals": 0}
    await run_burst_worker(worker_settings(client))
    assert await db.fetch_val("SELECT count(*) FROM sandbox_transfers") == 2
    assert len(await notes(db, "transfer.")) == 2


async def test_a_refused_transfer_is_retried_on_schedule_and_completes(client):
    db = client.app[DB]
    seller = await connected_seller(client)
    await fail_next_transfers(db, seller["account_id"], 1)
    _, transfer = await one_sale(client, seller)
    await run_burst_worker(worker_settings(client))

    (failed,) = await transfers_of(db, transfer["order_id"])
    assert (failed["status"], failed["retry_count"], failed["last_error"]) == (
        "failed", 1, "The sandbox was told to fail this transfer",
    )  # fmt: skip
    assert timedelta(seconds=BASE - 5) < failed["wait"] <= timedelta(seconds=BASE)
    assert await sweep(client) == {"transfers": 0, "reversals": 0}  # not due yet
    await run_burst_worker(worker_settings(client))
    assert (await transfers_of(db, transfer["order_id"]))[0]["status"] == "failed"

    await make_due(db, transfer["id"])
    assert await sweep(client) == {"transfers": 1, "reversals": 0}
    assert await sweep(client) == {"transfers": 1, "reversals": 0}  # queued again under the same job id: once
    await run_burst_worker(worker_settings(client))

    (done,) = await transfers_of(db, transfer["order_id"])
    assert (done["status"], done["retry_count"], done["next_retry_at"]) == ("completed", 1, None)
    assert done["last_error"] is None
    # a refusal moves the idempotency key on: Stripe would answer the old key with its refusal again
    assert await db.fetch_val("SELECT idempotency_key FROM sandbox_transfers") == f"transfer-{transfer['id']}-1"
    assert await notes(db, "transfer.") == [(seller["user"]["id"], "transfer.completed")]


async def test_a_transfer_cancelled_by_a_refund_while_it_was_being_sent_is_taken_back(client, monkeypatch):
    db = client.app[DB]
    _, transfer = await one_sale(client)  # pending: no worker ran
    gateway = client.app[CONNECT_GATEWAY]
    send = gateway.create_transfer

    async def paid_while_the_refund_settles(**kwargs):
        sent = await send(**kwargs)
        assert await transition(db, transfer["id"], "cancelled")  # as the refund's settlement does meanwhile
        return sent

    monkeypatch.setattr(gateway, "create_transfer", paid_while_the_refund_settles)
    await payouts.send_transfer(client.app, transfer["id"])
    (row,) = await transfers_of(db, transfer["order_id"])
    sent = await db.fetch_one("SELECT id FROM sandbox_transfers")
    assert (row["status"], row["gateway_transfer_id"]) == ("reversal_pending", sent["id"])
    monkeypatch.undo()
    await run_burst_worker(worker_settings(client))  # the reversal queued after the commit
    (row,) = await transfers_of(db, transfer["order_id"])
    assert row["status"] == "reversed"
    assert await db.fetch_val("SELECT amount_reversed FROM sandbox_transfers") == 2699


async def test_five_refusals_end_permanently_failed_and_an_admin_retry_completes_it(client):
    db = client.app[DB]
    admins = [await make_user(client, role="admin"), await make_user(client, role="admin")]
    seller = await connected_seller(client)
    await fail_next_transfers(db, seller["account_id"], 5)
    _, transfer = await one_sale(client, seller)

    await run_burst_worker(worker_settings(client))
    for tries in range(1, 5):
        (failed,) = await transfers_of(db, transfer["order_id"])
        assert (failed["status"], failed["retry_count"]) == ("failed", tries)
        delay = timedelta(seconds=BASE * 2 ** (tries - 1))  # 60, 120, 240, 480 s
        assert delay - timedelta(seconds=5) < failed["wait"] <= delay
        await make_due(db, transfer["id"])
        assert await sweep(client) == {"transfers": 1, "reversals": 0}
        await run_burst_worker(worker_settings(client))

    (given_up,) = await transfers_of(db, transfer["order_id"])
    assert (given_up["status"], given_up["retry_count"], given_up["next_retry_at"]) == ("permanently_failed", 5, None)
    assert await db.fetch_val("SELECT count(*) FROM sandbox_transfers") == 0
    assert await sweep(client) == {"transfers": 0, "reversals": 0}
    assert await notes(db, "transfer.") == sorted(
        [(seller["user"]["id"], "transfer.failed")]
        + [(admin["user"]["id"], "transfer.permanently_failed") for admin in admins]
    )

    resp = await client.get("/api/v1/admin/transfers?status=permanently_failed", headers=admins[0]["headers"])
    assert resp.status == 200
    listed = (await resp.json())["data"]
    assert (listed["total"], [t["id"] for t in listed["transfers"]]) == (1, [str(transfer["id"])])

    resp = await client.post(f"/api/v1/admin/transfers/{transfer['id']}/retry", headers=admins[1]["headers"])
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["data"] == {"id": str(transfer["id"]), "status": "completed", "retry_count": 5}
    assert await db.fetch_val("SELECT count(*) FROM sandbox_transfers") == 1
    assert (await notes(db, "transfer.completed")) == [(seller["user"]["id"], "transfer.completed")]


async def test_an_unavailable_gateway_is_not_a_try(client):
    db, gateway = client.app[DB], client.app[CONNECT_GATEWAY]
    _, transfer = await one_sale(client)
    gateway.unavailable = True
    for _ in range(6):  # more outages than tries: the transfer is never given up for them
        row = await payouts.send_transfer(client.app, transfer["id"])
        assert (row["status"], row["retry_count"], row["last_error"]) == (
            "failed", 0, "The payout service is unavailable",
        )  # fmt: skip
        assert await payouts.send_transfer(client.app, transfer["id"]) is None  # not due: nothing is sent
        await make_due(db, transfer["id"])
    gateway.unavailable = False
    assert (await payouts.send_transfer(client.app, transfer["id"]))["status"] == "completed"
    assert await db.fetch_val("SELECT count(*) FROM sandbox_transfers") == 1


async def test_a_seller_not_connected_is_paid_once_connected(client):
    db = client.app[DB]
    seller = await make_user(client)
    _, transfer = await one_sale(client, seller)
    await run_burst_worker(worker_settings(client))
    assert (await transfers_of(db, transfer["order_id"]))[0]["status"] == "pending"
    await db.execute("UPDATE seller_transfers SET created_at = now() - interval '2 minutes'")
    assert await sweep(client) == {"transfers": 0, "reversals": 0}  # they have nowhere to be paid yet

    seller = await connected_seller(client, seller)
    assert await sweep(client) == {"transfers": 1, "reversals": 0}  # the job that was not queued
    await run_burst_worker(worker_settings(client))
    (done,) = await transfers_of(db, transfer["order_id"])
    assert (done["status"], done["retry_count"]) == ("completed", 0)
    assert await db.fetch_val("SELECT destination FROM sandbox_transfers") == seller["account_id"]


async def test_a_pending_transfer_of_a_connected_seller_is_picked_up_once_a_minute_old(client):
    """A process that died between the order's commit and the queuing of its transfer: the sweep sends it."""
    db = client.app[DB]
    _, transfer = await one_sale(client)
    await client.app[ARQ].flushdb()  # the job was lost
    assert await sweep(client) == {"transfers": 0, "reversals": 0}  # younger than a minute: its job may be queued
    await db.execute("UPDATE seller_transfers SET created_at = now() - interval '61 seconds'")
    assert await sweep(client) == {"transfers": 1, "reversals": 0}
    await run_burst_worker(worker_settings(client))
    assert (await transfers_of(db, transfer["order_id"]))[0]["status"] == "completed"


async def reversal_pending(client) -> tuple[dict, dict]:
    seller, transfer = await one_sale(client)
    await run_burst_worker(worker_settings(client))
    moved = await transition(client.app[DB], transfer["id"], "reversal_pending")  # as a refund's settlement does
    assert moved["gateway_transfer_id"] is not None
    return seller, moved


async def test_a_reversal_takes_the_transfer_back_once(client):
    db = client.app[DB]
    _, transfer = await reversal_pending(client)
    await payouts.queue_reversal(client.app, transfer["id"])
    await run_burst_worker(worker_settings(client))

    (reversed_,) = await transfers_of(db, transfer["order_id"])
    reversal = await db.fetch_one("SELECT * FROM sandbox_transfer_reversals")
    assert (reversed_["status"], reversed_["gateway_reversal_id"], reversed_["reversal_retry_count"]) == (
        "reversed", reversal["id"], 0,
    )  # fmt: skip
    assert (reversal["transfer_id"], reversal["amount"], reversal["idempotency_key"]) == (
        transfer["gateway_transfer_id"], 2699, f"reversal-{transfer['id']}",
    )  # fmt: skip
    assert await db.fetch_val("SELECT amount_reversed FROM sandbox_transfers") == 2699
    await payouts.queue_reversal(client.app, transfer["id"])
    assert await sweep(client) == {"transfers": 0, "reversals": 0}
    await run_burst_worker(worker_settings(client))
    assert await db.fetch_val("SELECT count(*) FROM sandbox_transfer_reversals") == 1


async def test_a_refused_reversal_is_retried_on_schedule(client):
    db = client.app[DB]
    _, transfer = await reversal_pending(client)
    gateway_id = transfer["gateway_transfer_id"]
    await db.execute("UPDATE seller_transfers SET gateway_transfer_id = 'tr_unknown' WHERE id = %s", (transfer["id"],))
    assert await sweep(client) == {"transfers": 0, "reversals": 1}  # a reversal whose job was lost
    await run_burst_worker(worker_settings(client))
    (failed,) = await transfers_of(db, transfer["order_id"])
    assert (failed["status"], failed["reversal_retry_count"], failed["last_error"]) == (
        "reversal_pending", 1, "No such transfer: tr_unknown",
    )  # fmt: skip
    assert timedelta(seconds=BASE - 5) < failed["wait"] <= timedelta(seconds=BASE)
    assert await sweep(client) == {"transfers": 0, "reversals": 0}

    await db.execute("UPDATE seller_transfers SET gateway_transfer_id = %s WHERE id = %s", (gateway_id, transfer["id"]))
    await make_due(db, transfer["id"])
    assert await sweep(client) == {"transfers": 0, "reversals": 1}
    await run_burst_worker(worker_settings(client))
    (done,) = await transfers_of(db, transfer["order_id"])
    assert (done["status"], done["reversal_retry_count"], done["next_retry_at"]) == ("reversed", 1, None)


async def test_a_reversal_refused_five_times_is_given_up_and_the_admins_told(client):
    db = client.app[DB]
    admin = await make_user(client, role="admin")
    _, transfer = await reversal_pending(client)
    await db.execute("UPDATE seller_transfers SET gateway_transfer_id = 'tr_unknown' WHERE id = %s", (transfer["id"],))
    for tries in range(1, 6):
        row = await payouts.reverse_transfer(client.app, transfer["id"])
        assert (row["status"], row["reversal_retry_count"]) == (
            ("reversal_pending", tries) if tries < 5 else ("permanently_failed", 5)
        )
        await make_due(db, transfer["id"])
    assert await payouts.reverse_transfer(client.app, transfer["id"]) is None
    assert await notes(db, "reversal.") == [(admin["user"]["id"], "reversal.permanently_failed")]
    # an admin's retry tries the reversal again (sending it again would not take the money back)
    retry = f"/api/v1/admin/transfers/{transfer['id']}/retry"
    resp = await client.post(retry, headers=admin["headers"])
    assert resp.status == 502  # still refused: recorded, nobody told twice
    row = await db.fetch_one("SELECT * FROM seller_transfers WHERE id = %s", (transfer["id"],))
    assert (row["status"], row["reversal_retry_count"]) == ("permanently_failed", 6)
    assert await notes(db, "reversal.") == [(admin["user"]["id"], "reversal.permanently_failed")]
    await db.execute(
        "UPDATE seller_transfers SET gateway_transfer_id = %s WHERE id = %s",
        (transfer["gateway_transfer_id"], transfer["id"]),
    )
    resp = await client.post(retry, headers=admin["headers"])
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["data"]["status"] == "reversed"
    assert await db.fetch_val("SELECT count(*) FROM sandbox_transfer_reversals") == 1


def test_the_retry_delay_doubles_from_the_base(settings):
    app = {payouts.SETTINGS: settings}
    assert [payouts.retry_delay(app, n).total_seconds() for n in range(5)] == [60, 120, 240, 480, 960]


async def wait_for(check, what: str, timeout: float = 30.0):
    """Poll `check()` until it returns something truthy (a subprocess's progress has no event to wait on)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return result


@pytest.mark.slow
async def test_a_worker_killed_in_the_middle_of_a_transfer_never_pays_twice(client, tmp_path):
    """The real `veza worker` is killed after the gateway made the transfer and before the row says so
    (the test holds the row, so the worker's UPDATE waits); the job runs again: one transfer, completed once."""
    db, settings = client.app[DB], client.app[SETTINGS]
    seller, transfer = await one_sale(client)  # its job is queued
    env = os.environ | {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    log_path = tmp_path / "worker.log"
    async with transaction(db) as tx:
        await tx.execute("SELECT id FROM seller_transfers WHERE id = %s FOR UPDATE", (transfer["id"],))
        with log_path.open("wb") as log:
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "veza", "worker", env=env, stdout=log, stderr=log
            )
        try:
            blocked = await wait_for(
                lambda: db.fetch_val(
                    """
                    SELECT pid FROM pg_stat_activity
                    WHERE datname = current_database() AND wait_event_type = 'Lock'
                      AND query LIKE '%%UPDATE seller_transfers%%'
                    """
                ),
                f"the worker to block on the transfer's row:\n{log_path.read_text()}",
            )
            assert await db.fetch_val("SELECT count(*) FROM sandbox_transfers") == 1  # the gateway has paid
        finally:
            worker.kill()
            await asyncio.wait_for(worker.wait(), 10)
        assert worker.returncode == -signal.SIGKILL
        # its connection dies with it: the UPDATE it had sent never applies
        assert await db.fetch_val("SELECT pg_terminate_backend(%s)", (blocked,)) is True
    assert (await transfers_of(db, transfer["order_id"]))[0]["status"] == "pending"

    # arq runs the jobs again once the dead worker's claims on them expire (here: at once; it may have
    # claimed the order's other jobs too, such as its invoice)
    redis = client.app[ARQ]
    claims = [key async for key in redis.scan_iter(match=f"{in_progress_key_prefix}*")]
    assert f"{in_progress_key_prefix}{payouts.transfer_job_id(transfer['id'], 0)}".encode() in claims
    await redis.delete(*claims)
    await asyncio.wait_for(run_burst_worker(worker_settings(client)), 30)  # a claim left would make it wait

    (done,) = await transfers_of(db, transfer["order_id"])
    book = await db.fetch_one("SELECT * FROM sandbox_transfers")
    assert await db.fetch_val("SELECT count(*) FROM sandbox_transfers") == 1
    assert (done["status"], done["gateway_transfer_id"], done["retry_count"]) == ("completed", book["id"], 0)
    assert (book["amount"], book["destination"]) == (2699, seller["account_id"])
    assert await notes(db, "transfer.") == [(seller["user"]["id"], "transfer.completed")]
