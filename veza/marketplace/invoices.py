"""Invoices: each paid order's PDF, rendered once, stored, then served from storage.

The number is taken when the order completes (invoice_queries.issue_invoice); the PDF comes later,
from the job the completion enqueues, from the sweep that re-enqueues what a crash lost, or from the
buyer's first download, whichever comes first. However many of them run at once, the PDF is rendered
and stored once: the invoice row is locked (FOR UPDATE) while its PDF is rendered and stored, so the
others wait for that COMMIT and then find it stored. The key is the order's own, so a crash between
the put and the COMMIT leaves a blob that the next attempt overwrites.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from uuid import UUID

from aiohttp import web

from veza.constants import RENDER_INVOICE_JOB
from veza.db import Row, Transaction, transaction
from veza.errors import Conflict
from veza.jobs import enqueue
from veza.keys import DB, INVOICE_RENDERING, METRICS, STORAGE
from veza.marketplace import invoice_queries as queries
from veza.marketplace.invoice_pdf import InvoiceDocument, invoice_document, invoice_filename, render_pdf
from veza.storage import Download
from veza.users.queries import billing_party

PDF = "application/pdf"
SWEEP_BATCH = 1000  # invoices re-enqueued per sweep; the next sweep takes the rest


def storage_key(invoice: Row) -> str:
    return f"invoices/{invoice['year']}/{invoice['order_id']}.pdf"


def render_job_id(order_id: UUID | str) -> str:
    """The render job's id: one job per order, whoever enqueues it."""
    return f"invoice:{order_id}"


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def ensure_invoice(app: web.Application, order_id: UUID) -> Row:
    """The order's invoice row with its PDF stored (rendered and stored first if it was not)."""
    invoice = await queries.get_invoice(app[DB], order_id)
    if invoice["storage_key"] is not None:
        return invoice
    async with transaction(app[DB]) as tx:
        invoice = await queries.lock_invoice(tx, order_id)
        if invoice["storage_key"] is not None:  # rendered while this one waited for the lock
            return invoice
        key, size = await _render_and_store(app, tx, invoice)
        return await queries.mark_stored(tx, invoice["id"], key, size)


async def render_in_turn(app: web.Application, document: InvoiceDocument) -> bytes:
    """The PDF, rendered off the event loop once the renders before it are done. A render holds the GIL
    and renders go one at a time anyway (veza.marketplace.invoice_pdf); waiting here rather than in a
    thread leaves the default executor's few threads to storage and password hashing."""
    async with app[INVOICE_RENDERING]:
        return await asyncio.to_thread(render_pdf, document)


async def _render_and_store(app: web.Application, tx: Transaction, invoice: Row) -> tuple[str, int]:
    """Render the (locked) invoice's PDF from the order as it stands and store it under its key."""
    order = await queries.billed_order(tx, invoice["order_id"])
    buyer = await billing_party(tx, order["buyer_id"])
    document = invoice_document(invoice, order, buyer, await queries.billed_items(tx, invoice["order_id"]))
    started = time.perf_counter()
    pdf = await render_in_turn(app, document)
    app[METRICS].invoice_renders.observe(time.perf_counter() - started)
    key = storage_key(invoice)
    return key, await app[STORAGE].put(key, _one_chunk(pdf), content_type=PDF)


async def rerender_naming(app: web.Application, user_id: UUID, deleted_at: datetime) -> int:
    """Render again, in place, the stored invoices that name a deleted account (as buyer or seller) and were
    rendered before its deletion, so that they show a deleted user; how many. The invoice stays downloadable
    throughout: the PDF is replaced under the same key while its row is locked."""
    done = 0
    while order_ids := await queries.stored_invoices_naming(app[DB], user_id, deleted_at, SWEEP_BATCH):
        for order_id in order_ids:
            async with transaction(app[DB]) as tx:
                invoice = await queries.lock_invoice(tx, order_id)
                if invoice["storage_key"] is None or invoice["rendered_at"] >= deleted_at:
                    continue  # rendered since, by a download or the sweep
                _, size = await _render_and_store(app, tx, invoice)
                await queries.mark_rerendered(tx, invoice["id"], size)
            done += 1
    return done


async def buyer_invoice(app: web.Application, buyer_id: UUID, order_id: UUID) -> Download:
    """The stored invoice PDF of one of the buyer's paid orders (rendered now if it is not yet);
    another's order is not found."""
    order = await queries.buyer_order(app[DB], order_id, buyer_id)
    if order["status"] not in queries.INVOICED_STATUSES:
        raise Conflict("The order is not paid: it has no invoice", code="order_not_paid")
    invoice = await ensure_invoice(app, order_id)
    return Download(invoice["storage_key"], PDF, invoice_filename(invoice))


async def enqueue_unrendered(app: web.Application) -> int:
    """Enqueue the render job of each paid order whose PDF is not stored; the job's id makes a job
    already queued (by the completion, or an earlier sweep) count once. Returns how many were seen."""
    order_ids = await queries.unrendered_invoices(app[DB], SWEEP_BATCH)
    for order_id in order_ids:
        await enqueue(app, RENDER_INVOICE_JOB, str(order_id), job_id=render_job_id(order_id))
    return len(order_ids)
