"""The transfer state table, walked whole: every (from, to) pair changes the row iff the table allows it."""

import itertools

import pytest

from tests.factories import make_product, make_user, paid_order
from veza.keys import DB
from veza.payments.transfer_queries import STATES, TRANSITIONS, sources, transition

DESIGN_PAIRS = {  # DESIGN.md §6, and the table's own additions (retries that fail again, cancellation)
    ("pending", "completed"), ("pending", "failed"), ("pending", "cancelled"),
    ("failed", "completed"), ("failed", "failed"), ("failed", "permanently_failed"), ("failed", "cancelled"),
    ("permanently_failed", "completed"), ("permanently_failed", "permanently_failed"),
    ("permanently_failed", "reversal_pending"), ("permanently_failed", "cancelled"),
    ("completed", "reversal_pending"),
    ("reversal_pending", "reversed"), ("reversal_pending", "reversal_pending"),
    ("reversal_pending", "permanently_failed"),
    ("cancelled", "reversal_pending"),
}  # fmt: skip


async def a_transfer(client) -> tuple[str, dict]:
    seller, buyer = await make_user(client), await make_user(client)
    order = await paid_order(client, buyer, await make_product(client, seller))
    row = await client.app[DB].fetch_one("SELECT * FROM seller_transfers WHERE order_id = %s", (order["id"],))
    return row["id"], row


def test_the_table_is_the_designs():
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == DESIGN_PAIRS
    assert STATES == {
        "pending", "completed", "failed", "permanently_failed", "reversal_pending", "reversed", "cancelled"
    }  # fmt: skip
    assert sources("completed") == ["failed", "pending", "permanently_failed"]


async def test_every_pair_changes_the_row_iff_the_table_allows_it(client):
    db = client.app[DB]
    transfer_id, _ = await a_transfer(client)
    pairs = list(itertools.product(sorted(STATES), repeat=2))
    assert len(pairs) == 49
    for n, (source, target) in enumerate(pairs):
        await db.execute(
            "UPDATE seller_transfers SET status = %s, retry_count = 0, last_error = NULL WHERE id = %s",
            (source, transfer_id),
        )
        before = await db.fetch_one("SELECT * FROM seller_transfers WHERE id = %s", (transfer_id,))
        moved = await transition(db, transfer_id, target, retry_count=n + 1, last_error=f"pair {n}")
        after = await db.fetch_one("SELECT * FROM seller_transfers WHERE id = %s", (transfer_id,))
        if (source, target) in DESIGN_PAIRS:
            assert moved == after, (source, target)
            assert (after["status"], after["retry_count"], after["last_error"]) == (target, n + 1, f"pair {n}")
            changed = ("status", "retry_count", "last_error", "updated_at")
            assert {k: v for k, v in after.items() if k not in changed} == {
                k: v for k, v in before.items() if k not in changed
            }
            assert after["updated_at"] > before["updated_at"]
        else:
            assert moved is None, (source, target)
            assert after == before, (source, target)


async def test_only_from_narrows_the_allowed_sources(client):
    db = client.app[DB]
    transfer_id, _ = await a_transfer(client)
    assert await transition(db, transfer_id, "completed", only_from=frozenset({"failed"})) is None
    assert (await transition(db, transfer_id, "failed", only_from=frozenset({"pending"})))["status"] == "failed"
    # `only_from` cannot widen the table: failed -> reversed stays refused
    assert await transition(db, transfer_id, "reversed", only_from=frozenset({"failed"})) is None
    assert await db.fetch_val("SELECT status FROM seller_transfers WHERE id = %s", (transfer_id,)) == "failed"


async def test_an_unknown_state_or_field_is_a_bug(client):
    transfer_id, _ = await a_transfer(client)
    with pytest.raises(ValueError, match="no such transfer state"):
        await transition(client.app[DB], transfer_id, "paid")
    with pytest.raises(ValueError, match="not updatable"):
        await transition(client.app[DB], transfer_id, "failed", amount_cents=1)
    assert await client.app[DB].fetch_val("SELECT status FROM seller_transfers WHERE id = %s", (transfer_id,)) == (
        "pending"
    )
