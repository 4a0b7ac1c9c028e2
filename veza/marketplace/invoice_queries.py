"""SQL for invoices."""

from __future__ import annotations

from uuid import UUID

from veza.db import Executor


async def issue_invoice(tx: Executor, order_id: UUID) -> None:
    """Give a completed order the next invoice number of the year; call it in the transaction that
    completes the order, so that a rollback gives the number back and numbers run without gaps."""
    await tx.execute(
        """
        WITH taken AS (
            INSERT INTO invoice_counters AS c (year, last_number)
            VALUES (extract(year FROM now() AT TIME ZONE 'UTC')::int, 1)
            ON CONFLICT (year) DO UPDATE SET last_number = c.last_number + 1
            RETURNING year, last_number
        )
        INSERT INTO invoices (order_id, year, number) SELECT %s, year, last_number FROM taken
        """,
        (order_id,),
    )
