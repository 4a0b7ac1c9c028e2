"""/admin/transfers: the list with its filters and pages, and an admin's retry of a failed transfer."""

import uuid

import pytest

from tests.factories import connected_seller, make_product, make_user, paid_order, run_burst_worker
from tests.payments.helpers import worker_settings
from veza.keys import CONNECT_GATEWAY, DB
from veza.payments.sandbox_connect import fail_next_transfers

LIST = "/api/v1/admin/transfers"
FIELDS = {
    "id", "seller_id", "order_id", "amount_cents", "platform_fee_cents", "currency", "status", "retry_count",
    "next_retry_at", "created_at", "last_error",
}  # fmt: skip


def retry_path(transfer_id) -> str:
    return f"{LIST}/{transfer_id}/retry"


async def three_transfers(client) -> dict:
    """Alice's and Bob's transfers of one order and Alice's of another, created on Feb 20, 23 and 25;
    Alice's first one failed once."""
    db = client.app[DB]
    alice, bob, buyer = await make_user(client), await make_user(client), await make_user(client)
    first = await paid_order(
        client, buyer, await make_product(client, alice, price_cents=2999), await make_product(client, bob)
    )
    second = await paid_order(client, buyer, await make_product(client, alice, price_cents=1000))
    ids = {}
    for name, seller, order, created in [
        ("a1", alice, first, "2026-02-20T12:00:00Z"),
        ("b1", bob, first, "2026-02-23T12:00:00Z"),
        ("a2", alice, second, "2026-02-25T12:00:00Z"),
    ]:
        ids[name] = await db.fetch_val(
            "UPDATE seller_transfers SET created_at = %s WHERE order_id = %s AND seller_id = %s RETURNING id::text",
            (created, order["id"], seller["user"]["id"]),
        )
    await db.execute(
        "UPDATE seller_transfers SET status = 'failed', retry_count = 1, next_retry_at = '2026-02-24T10:00:00Z', "
        "last_error = 'refused' WHERE id = %s",
        (ids["a1"],),
    )
    return {"alice": alice, "bob": bob, "ids": ids, "admin": await make_user(client, role="admin")}


async def listed(client, admin, query: str = "") -> tuple[list[str], int]:
    resp = await client.get(f"{LIST}{query}", headers=admin["headers"])
    assert resp.status == 200, await resp.text()
    data = (await resp.json())["data"]
    return [transfer["id"] for transfer in data["transfers"]], data["total"]


async def test_the_list_answers_the_references_fields_newest_first(client):
    made = await three_transfers(client)
    resp = await client.get(LIST, headers=made["admin"]["headers"])
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert data["total"] == 3
    assert [t["id"] for t in data["transfers"]] == [made["ids"]["a2"], made["ids"]["b1"], made["ids"]["a1"]]
    assert all(set(transfer) == FIELDS for transfer in data["transfers"])
    assert data["transfers"][2] == {
        "id": made["ids"]["a1"],
        "seller_id": made["alice"]["user"]["id"],
        "order_id": data["transfers"][1]["order_id"],
        "amount_cents": 2699,
        "platform_fee_cents": 300,
        "currency": "EUR",
        "status": "failed",
        "retry_count": 1,
        "next_retry_at": "2026-02-24T10:00:00Z",
        "created_at": "2026-02-20T12:00:00Z",
        "last_error": "refused",
    }
    assert (data["transfers"][0]["next_retry_at"], data["transfers"][0]["last_error"]) == (None, None)


async def test_the_list_filters_by_status_seller_and_creation_range(client):
    made = await three_transfers(client)
    ids, admin, alice = made["ids"], made["admin"], made["alice"]["user"]["id"]
    assert await listed(client, admin, "?status=failed") == ([ids["a1"]], 1)
    assert await listed(client, admin, "?status=pending") == ([ids["a2"], ids["b1"]], 2)
    assert await listed(client, admin, "?status=permanently_failed") == ([], 0)
    assert await listed(client, admin, f"?seller_id={alice}") == ([ids["a2"], ids["a1"]], 2)
    assert await listed(client, admin, f"?seller_id={alice}&status=pending") == ([ids["a2"]], 1)
    assert await listed(client, admin, f"?seller_id={uuid.uuid4()}") == ([], 0)
    assert await listed(client, admin, "?from=2026-02-23") == ([ids["a2"], ids["b1"]], 2)
    assert await listed(client, admin, "?to=2026-02-23") == ([ids["b1"], ids["a1"]], 2)  # a date: its whole day
    assert await listed(client, admin, "?to=2026-02-23T12:00:00Z") == ([ids["a1"]], 1)  # a moment: before it
    assert await listed(client, admin, "?from=2026-02-20T12:00:01%2B00:00&to=2026-02-24") == ([ids["b1"]], 1)
    assert await listed(client, admin, "?from=2026-02-23T13:00:00") == ([ids["a2"]], 1)  # no zone: UTC
    # ISO 8601 offsets reach 23:59 (PostgreSQL's stop at 15:59): the same instant in UTC
    assert await listed(client, admin, "?from=2026-02-24T12:59:00%2B23:59") == ([ids["a2"]], 1)
    assert await listed(client, admin, "?to=2026-02-22T12:02:00-23:59") == ([ids["b1"], ids["a1"]], 2)


async def test_the_list_pages(client):
    made = await three_transfers(client)
    ids, admin = made["ids"], made["admin"]
    assert await listed(client, admin, "?limit=2") == ([ids["a2"], ids["b1"]], 3)
    assert await listed(client, admin, "?limit=2&offset=2") == ([ids["a1"]], 3)
    assert await listed(client, admin, "?limit=2&offset=5") == ([], 3)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=paid", "status"),
        ("seller_id=alice", "seller_id"),
        ("from=yesterday", "from"),
        ("to=2026-02-30", "to"),
        ("from=2026-02-24&to=2026-02-23", "body"),
        ("from=2026-02-24&to=2026-02-24T00:00:00Z", "body"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("offset=-1", "offset"),
    ],
)
async def test_invalid_filters_are_422(client, query, field):
    admin = await make_user(client, role="admin")
    resp = await client.get(f"{LIST}?{query}", headers=admin["headers"])
    assert resp.status == 422
    body = await resp.json()
    assert (body["success"], body["code"]) == (False, "validation_error")
    assert [detail["field"] for detail in body["details"]] == [field]


async def test_admins_only(client):
    seller, buyer = await make_user(client), await make_user(client)
    await paid_order(client, buyer, await make_product(client, seller))
    transfer_id = await client.app[DB].fetch_val("SELECT id FROM seller_transfers")
    for path, method in [(LIST, client.get), (retry_path(transfer_id), client.post)]:
        anonymous = await method(path)
        assert (anonymous.status, (await anonymous.json())["code"]) == (401, "unauthorized")
        for user in (seller, buyer):
            resp = await method(path, headers=user["headers"])
            assert (resp.status, (await resp.json())["code"]) == (403, "forbidden")
    assert await client.app[DB].fetch_val("SELECT status FROM seller_transfers") == "pending"


async def failed_transfer(client, failures: int) -> tuple[dict, str]:
    """A connected seller's transfer refused once by the sandbox, which will refuse `failures - 1` more."""
    seller = await connected_seller(client)
    await fail_next_transfers(client.app[DB], seller["account_id"], failures)
    await paid_order(client, await make_user(client), await make_product(client, seller))
    await run_burst_worker(worker_settings(client))
    transfer_id = await client.app[DB].fetch_val("SELECT id::text FROM seller_transfers WHERE status = 'failed'")
    assert transfer_id is not None
    return seller, transfer_id


async def test_an_admin_retry_sends_a_failed_transfer_now_and_once(client):
    db = client.app[DB]
    admin = await make_user(client, role="admin")
    seller, transfer_id = await failed_transfer(client, 1)
    headers = {**admin["headers"], "Idempotency-Key": "retry-1"}

    resp = await client.post(retry_path(transfer_id), headers=headers)  # its retry was not due before a minute
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["data"] == {"id": transfer_id, "status": "completed", "retry_count": 1}
    again = await client.post(retry_path(transfer_id), headers=headers)
    assert (again.status, again.headers["Idempotent-Replayed"]) == (200, "true")
    assert (await again.json())["data"] == {"id": transfer_id, "status": "completed", "retry_count": 1}

    assert await db.fetch_val("SELECT count(*) FROM sandbox_transfers") == 1
    assert await db.fetch_val("SELECT destination FROM sandbox_transfers") == seller["account_id"]
    done = await db.fetch_one("SELECT * FROM seller_transfers WHERE id = %s", (transfer_id,))
    assert (done["status"], done["next_retry_at"], done["last_error"]) == ("completed", None, None)

    resp = await client.post(retry_path(transfer_id), headers=admin["headers"])  # without the key: a new request
    assert resp.status == 409
    assert (await resp.json())["error"] == "Only a failed transfer can be retried; this one is completed"


async def test_an_admin_retry_refused_again_is_a_502_and_counts_as_a_try(client):
    db = client.app[DB]
    admin = await make_user(client, role="admin")
    _, transfer_id = await failed_transfer(client, 2)
    resp = await client.post(retry_path(transfer_id), headers=admin["headers"])
    assert resp.status == 502
    body = await resp.json()
    assert (body["code"], body["error"]) == ("payment_refused", "The sandbox was told to fail this transfer")
    row = await db.fetch_one(
        "SELECT status, retry_count, next_retry_at > now() AS later FROM seller_transfers WHERE id = %s", (transfer_id,)
    )
    assert row == {"status": "failed", "retry_count": 2, "later": True}

    client.app[CONNECT_GATEWAY].unavailable = True
    resp = await client.post(retry_path(transfer_id), headers=admin["headers"])
    assert resp.status == 503
    assert await db.fetch_val("SELECT retry_count FROM seller_transfers WHERE id = %s", (transfer_id,)) == 2
    client.app[CONNECT_GATEWAY].unavailable = False

    resp = await client.post(retry_path(transfer_id), headers=admin["headers"])
    assert (resp.status, (await resp.json())["data"]["status"]) == (200, "completed")
    assert await db.fetch_val("SELECT count(*) FROM sandbox_transfers") == 1


async def test_a_retry_of_what_cannot_be_retried(client):
    admin = await make_user(client, role="admin")
    seller, buyer = await make_user(client), await make_user(client)
    await paid_order(client, buyer, await make_product(client, seller))
    pending = await client.app[DB].fetch_val("SELECT id FROM seller_transfers")
    resp = await client.post(retry_path(pending), headers=admin["headers"])
    assert resp.status == 409
    body = await resp.json()
    assert (body["code"], body["error"]) == (
        "transfer_not_retryable", "Only a failed transfer can be retried; this one is pending",
    )  # fmt: skip

    for missing in (uuid.uuid4(), "not-a-uuid"):
        resp = await client.post(retry_path(missing), headers=admin["headers"])
        assert (resp.status, (await resp.json())["code"]) == (404, "not_found")


async def test_a_retry_for_a_seller_no_longer_connected_is_a_409(client):
    db = client.app[DB]
    admin = await make_user(client, role="admin")
    seller, transfer_id = await failed_transfer(client, 1)
    await db.execute("UPDATE connect_accounts SET connected = false WHERE user_id = %s", (seller["user"]["id"],))
    resp = await client.post(retry_path(transfer_id), headers=admin["headers"])
    assert resp.status == 409
    assert (await resp.json())["error"] == "The seller has no connected payout account: the transfer waits for it"
    assert await db.fetch_val("SELECT status FROM seller_transfers") == "failed"


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("to=9999-12-31", ["a2", "b1", "a1"]),
        ("from=0001-01-01T00:00:00%2B14:00", ["a2", "b1", "a1"]),
        ("to=9999-12-31T23:59:59-14:00", ["a2", "b1", "a1"]),
        ("from=0001-01-01T00:00:00%2B23:59", ["a2", "b1", "a1"]),  # offsets past PostgreSQL's 15:59
        ("to=9999-12-31T23:00:00-23:59", ["a2", "b1", "a1"]),
        ("from=5780-04-21T11:02:11.32772-23:48", []),
        ("from=2026-02-25T12:00:00.5Z", []),
        ("from=2026-02-25T11:59:59.5Z", ["a2"]),
    ],
)
async def test_extreme_and_precise_dates_are_answered(client, query, names):
    made = await three_transfers(client)
    assert await listed(client, made["admin"], f"?{query}") == ([made["ids"][name] for name in names], len(names))
