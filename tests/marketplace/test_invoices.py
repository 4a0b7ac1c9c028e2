"""Invoices: numbered when the order completes, the PDF rendered once (by the job, the sweep or the first
download), stored, and served to the buyer alone."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from arq import Retry
from arq.constants import default_queue_name, job_key_prefix
from pypdf import PdfReader
from yarl import URL

from tests.cloud.conftest import s3_changes
from tests.factories import checkout, confirm_payment, make_product, make_user, paid_order, run_burst_worker
from tests.outage import TcpProxy
from veza.app import create_app
from veza.constants import RENDER_INVOICE_JOB, SWEEP_INVOICES_JOB
from veza.db import transaction
from veza.jobs import enqueue
from veza.keys import ARQ, DB, INVOICE_RENDERING, METRICS, REDIS, STORAGE
from veza.marketplace.invoice_pdf import invoice_document
from veza.marketplace.invoice_queries import issue_invoice
from veza.marketplace.invoices import render_in_turn, render_job_id
from veza.openapi import build_spec
from veza.payments import sandbox
from veza.storage.reconcile import reconcile
from workers.invoices import render_invoice
from workers.settings import WorkerSettings

PDF = "application/pdf"


@pytest.fixture
def invoice_settings(settings, tmp_path):
    """Storage of the test's own, so that what is stored under invoices/ is this test's alone."""
    return settings.model_copy(update={"data_dir": tmp_path, "storage_backend": "local"})


@pytest.fixture
def app(invoice_settings):
    return create_app(invoice_settings)


def invoice_url(order_id: str) -> str:
    return f"/api/v1/marketplace/orders/{order_id}/invoice"


def renders(app) -> int:
    """How many invoice PDFs this app (web or worker) has rendered."""
    return int(app[METRICS].registry.get_sample_value("veza_invoice_render_seconds_count"))


async def stored_invoices(app) -> list[str]:
    return sorted([item.key async for item in app[STORAGE].scan("invoices/")])


async def render_results(app) -> dict[str, str]:
    """The render jobs that ran, by job id: the storage key each returned. (Counting every job the burst
    worker ran would also count the cron jobs that fall due while it runs.)"""
    results = await app[ARQ].all_job_results()
    return {r.job_id: r.result for r in results if r.function == RENDER_INVOICE_JOB and r.success}


async def forget_render_job(app, order_id: str) -> None:
    """Leave no render job queued for the order, as a crash between its COMMIT and the enqueue does."""
    job_id = render_job_id(order_id)
    await app[REDIS].zrem(default_queue_name, job_id)
    await app[REDIS].delete(job_key_prefix + job_id)


async def invoice_row(app, order_id: str) -> dict:
    return await app[DB].fetch_one("SELECT * FROM invoices WHERE order_id = %s", (order_id,))


def pdf_lines(data: bytes) -> list[str]:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return [line.strip() for line in text.splitlines() if line.strip()]


def contains_run(lines: list[str], run: list[str]) -> bool:
    return any(lines[i : i + len(run)] == run for i in range(len(lines) - len(run) + 1))


async def sold(client, username: str, **product) -> dict:
    """A product of a seller of its own."""
    seller = await make_user(client, username=username)
    return await make_product(client, seller, **product)


async def unpaid_order(client, buyer: dict, product: dict, status: str = "pending") -> str:
    """An order not paid yet (pending), or whose payment failed: no invoice."""
    created = await checkout(client, buyer, product)
    if status == "failed":
        event_id = await confirm_payment(client, buyer, created["payment"]["payment_id"], outcome="failed")
        assert await sandbox.deliver_event(client.app, event_id, str(client.make_url(sandbox.WEBHOOK_PATH)))
    order_id = created["order"]["id"]
    assert await client.app[DB].fetch_val("SELECT status FROM orders WHERE id = %s", (order_id,)) == status
    return order_id


async def test_the_pdf_shows_number_date_parties_lines_and_total(client):
    buyer = await make_user(client, username="ada_buyer", email="ada@example.com")
    beat = await sold(client, "lena_beats", title="Night Drive", price_cents=2999)
    kit = await sold(client, "milo_kits", title="Drums & <Bass> Kit", price_cents=1450)
    order = await paid_order(client, buyer, beat, kit)
    # two of the kit: the line's amount is quantity x unit price
    await client.app[DB].execute(
        "UPDATE order_items SET quantity = 2 WHERE order_id = %s AND product_id = %s", (order["id"], kit["id"])
    )
    await client.app[DB].execute("UPDATE orders SET total_cents = 5899 WHERE id = %s", (order["id"],))
    invoice = await invoice_row(client.app, order["id"])
    label = f"{invoice['year']}-{invoice['number']:06d}"
    assert label == f"{datetime.now(UTC).year}-000001"

    resp = await client.get(invoice_url(order["id"]), headers=buyer["headers"])

    assert resp.status == 200
    assert resp.headers["Content-Type"] == PDF
    assert resp.headers["Content-Disposition"].startswith(f'attachment; filename="invoice-{label}.pdf"')
    assert resp.headers["Cache-Control"] == "private, no-store"
    assert resp.headers["Accept-Ranges"] == "bytes"
    body = await resp.read()
    assert body.startswith(b"%PDF-")
    lines = pdf_lines(body)
    assert lines[0] == f"Invoice {label}"
    assert lines[1].startswith(f"Issued {invoice['created_at'].date().isoformat()}")
    assert contains_run(lines, ["Sold by", "lena_beats", "milo_kits"])
    assert contains_run(lines, ["Billed to", "ada_buyer", "ada@example.com"])
    assert contains_run(lines, ["Night Drive", "lena_beats", "1", "29.99 EUR", "29.99 EUR"])
    assert contains_run(lines, ["Drums & <Bass> Kit", "milo_kits", "2", "14.50 EUR", "29.00 EUR"])  # escaped
    assert contains_run(lines, ["Total (EUR)", "58.99 EUR"])

    stored = await invoice_row(client.app, order["id"])
    assert stored["storage_key"] == f"invoices/{invoice['year']}/{order['id']}.pdf"
    assert stored["size_bytes"] == len(body)
    assert stored["rendered_at"] is not None
    assert await stored_invoices(client.app) == [stored["storage_key"]]


async def test_numbers_run_per_year_without_gaps_even_past_a_rollback(client):
    db = client.app[DB]
    year = datetime.now(UTC).year
    await db.execute("INSERT INTO invoice_counters (year, last_number) VALUES (%s, 41)", (year - 1,))
    buyer = await make_user(client)
    product = await sold(client, "seller_numbers")
    orders = [await paid_order(client, buyer, product) for _ in range(3)]

    # a completion that rolls back gives its number back
    pending = await unpaid_order(client, buyer, product)
    with pytest.raises(RuntimeError):
        async with transaction(db) as tx:
            await issue_invoice(tx, uuid.UUID(pending))
            assert await tx.fetch_val("SELECT number FROM invoices WHERE order_id = %s", (pending,)) == 4
            raise RuntimeError("the payment's completion failed")
    assert await invoice_row(client.app, pending) is None
    async with transaction(db) as tx:
        await issue_invoice(tx, uuid.UUID(pending))
    orders.append({"id": pending})
    orders.append(await paid_order(client, buyer, product))

    numbers = [((row := await invoice_row(client.app, o["id"]))["year"], row["number"]) for o in orders]
    assert numbers == [(year, n) for n in range(1, 6)]
    counters = await db.fetch_all("SELECT year, last_number FROM invoice_counters ORDER BY year")
    assert counters == [{"year": year - 1, "last_number": 41}, {"year": year, "last_number": 5}]


async def test_concurrent_first_downloads_render_once(client):
    buyer = await make_user(client)
    order = await paid_order(client, buyer, await sold(client, "seller_rush"))

    async def download() -> tuple[int, bytes]:
        resp = await client.get(invoice_url(order["id"]), headers=buyer["headers"])
        return resp.status, await resp.read()

    answers = await asyncio.gather(*(download() for _ in range(10)))

    assert [status for status, _ in answers] == [200] * 10
    assert len({body for _, body in answers}) == 1
    assert renders(client.app) == 1
    assert await stored_invoices(client.app) == [(await invoice_row(client.app, order["id"]))["storage_key"]]


async def test_the_job_renders_and_a_download_serves_the_stored_pdf(client, invoice_settings):
    buyer = await make_user(client)
    order = await paid_order(client, buyer, await sold(client, "seller_job"))
    # as the order's completion does, after its COMMIT
    await enqueue(client.app, RENDER_INVOICE_JOB, order["id"], job_id=render_job_id(order["id"]))

    worker = await run_burst_worker(invoice_settings)

    assert worker.jobs_failed == 0
    assert renders(worker.ctx["app"]) == 1
    invoice = await invoice_row(client.app, order["id"])
    assert invoice["storage_key"] == f"invoices/{invoice['year']}/{order['id']}.pdf"
    assert await render_results(client.app) == {render_job_id(order["id"]): invoice["storage_key"]}
    async with client.app[STORAGE].open(invoice["storage_key"]) as blob:
        stored = b"".join([chunk async for chunk in blob])

    resp = await client.get(invoice_url(order["id"]), headers=buyer["headers"])
    assert resp.status == 200
    assert await resp.read() == stored
    assert renders(client.app) == 0
    assert await invoice_row(client.app, order["id"]) == invoice  # rendered_at and size unchanged


async def test_the_sweep_renders_what_a_crash_left_unrendered_once(client, invoice_settings):
    buyer = await make_user(client)
    product = await sold(client, "seller_sweep")
    lost = [await paid_order(client, buyer, product) for _ in range(2)]  # their enqueue never happened
    queued = await paid_order(client, buyer, product)  # its job is queued: the sweep must not add another
    downloaded = await paid_order(client, buyer, product)  # already stored: nothing to do
    for order in (*lost, queued, downloaded):
        await forget_render_job(client.app, order["id"])
    await enqueue(client.app, RENDER_INVOICE_JOB, queued["id"], job_id=render_job_id(queued["id"]))
    assert (await client.get(invoice_url(downloaded["id"]), headers=buyer["headers"])).status == 200
    await unpaid_order(client, buyer, product)  # no invoice
    await unpaid_order(client, buyer, product, status="failed")

    await enqueue(client.app, SWEEP_INVOICES_JOB)
    worker = await run_burst_worker(invoice_settings)

    assert worker.jobs_failed == 0
    assert renders(worker.ctx["app"]) == 3
    rows = [await invoice_row(client.app, order["id"]) for order in [*lost, queued, downloaded]]
    assert [row["storage_key"] for row in rows] == [f"invoices/{row['year']}/{row['order_id']}.pdf" for row in rows]
    assert await stored_invoices(client.app) == sorted(row["storage_key"] for row in rows)
    rendered = {render_job_id(row["order_id"]): row["storage_key"] for row in rows[:3]}  # one job per order
    assert await render_results(client.app) == rendered

    await enqueue(client.app, SWEEP_INVOICES_JOB)
    again = await run_burst_worker(invoice_settings)
    assert (again.jobs_failed, renders(again.ctx["app"])) == (0, 0)
    assert await render_results(client.app) == rendered


def test_the_worker_runs_the_job_and_the_sweep_with_their_own_limits():
    [job] = [f for f in WorkerSettings.functions if getattr(f, "name", None) == RENDER_INVOICE_JOB]
    assert (job.timeout_s, job.max_tries) == (60, 5)
    [sweep] = [job for job in WorkerSettings.cron_jobs if job.name == SWEEP_INVOICES_JOB]
    assert (sweep.unique, sweep.minute, sweep.timeout_s) == (True, set(range(0, 60, 5)), 120)


async def test_only_the_buyer_gets_the_invoice(client):
    buyer = await make_user(client)
    seller = await make_user(client, username="seller_private")
    order = await paid_order(client, buyer, await make_product(client, seller))
    stranger = await make_user(client)

    for headers in (stranger["headers"], seller["headers"]):
        resp = await client.get(invoice_url(order["id"]), headers=headers)
        assert resp.status == 404
        assert (await resp.json())["code"] == "not_found"
    for path in (invoice_url(str(uuid.uuid4())), invoice_url("not-a-uuid")):
        resp = await client.get(path, headers=buyer["headers"])
        assert resp.status == 404
        assert (await resp.json())["success"] is False
    resp = await client.get(invoice_url(order["id"]))
    assert resp.status == 401
    assert (await resp.json())["code"] == "unauthorized"
    assert renders(client.app) == 0
    assert (await invoice_row(client.app, order["id"]))["storage_key"] is None


async def test_an_unpaid_order_has_no_invoice_and_a_refunded_one_keeps_it(client):
    buyer = await make_user(client)
    product = await sold(client, "seller_unpaid")
    for status in ("pending", "failed"):
        order_id = await unpaid_order(client, buyer, product, status=status)
        resp = await client.get(invoice_url(order_id), headers=buyer["headers"])
        assert resp.status == 409
        assert (await resp.json())["code"] == "order_not_paid"
    assert renders(client.app) == 0
    assert await client.app[DB].fetch_val("SELECT count(*) FROM invoices") == 0

    refunded = await paid_order(client, buyer, product)
    await client.app[DB].execute("UPDATE orders SET status = 'refunded' WHERE id = %s", (refunded["id"],))
    resp = await client.get(invoice_url(refunded["id"]), headers=buyer["headers"])
    assert resp.status == 200
    assert resp.headers["Content-Type"] == PDF


async def test_a_byte_range_of_the_invoice(client):
    buyer = await make_user(client)
    order = await paid_order(client, buyer, await sold(client, "seller_range"))
    whole = await (await client.get(invoice_url(order["id"]), headers=buyer["headers"])).read()

    resp = await client.get(invoice_url(order["id"]), headers={**buyer["headers"], "Range": "bytes=0-7"})

    assert resp.status == 206
    assert resp.headers["Content-Range"] == f"bytes 0-7/{len(whole)}"
    assert await resp.read() == whole[:8]
    resp = await client.get(invoice_url(order["id"]), headers={**buyer["headers"], "Range": f"bytes={len(whole)}-"})
    assert resp.status == 416
    assert renders(client.app) == 1


async def test_on_s3_the_invoice_is_a_redirect_to_a_presigned_pdf(aiohttp_client, invoice_settings, moto_endpoint):
    client = await aiohttp_client(create_app(invoice_settings.model_copy(update=s3_changes(moto_endpoint))))
    buyer = await make_user(client)
    order = await paid_order(client, buyer, await sold(client, "seller_s3"))
    label = "{year}-{number:06d}".format(**await invoice_row(client.app, order["id"]))

    resp = await client.get(invoice_url(order["id"]), headers=buyer["headers"], allow_redirects=False)

    assert resp.status == 302
    assert resp.headers["Cache-Control"] == "no-store"
    async with (
        aiohttp.ClientSession() as session,
        session.get(URL(resp.headers["Location"], encoded=True)) as presigned,
    ):
        assert presigned.status == 200
        assert presigned.headers["Content-Type"] == PDF
        assert f'filename="invoice-{label}.pdf"' in presigned.headers["Content-Disposition"]
        assert pdf_lines(await presigned.read())[0] == f"Invoice {label}"
    assert await stored_invoices(client.app) == [(await invoice_row(client.app, order["id"]))["storage_key"]]
    assert renders(client.app) == 1


async def test_while_s3_is_down_the_job_retries_later_and_a_download_is_unavailable(
    aiohttp_client, invoice_settings, moto_endpoint
):
    moto = URL(moto_endpoint)
    proxy = TcpProxy(moto.host, moto.port)
    await proxy.start()
    s3 = s3_changes(f"http://127.0.0.1:{proxy.port}")
    timeouts = {"s3_connect_timeout": 0.5, "s3_read_timeout": 0.5, "s3_max_attempts": 1}
    client = await aiohttp_client(create_app(invoice_settings.model_copy(update={**s3, **timeouts})))
    try:
        buyer = await make_user(client)
        order = await paid_order(client, buyer, await sold(client, "seller_outage"))
        await proxy.kill()

        resp = await client.get(invoice_url(order["id"]), headers=buyer["headers"])
        assert resp.status == 503
        assert (await resp.json())["code"] == "unavailable"
        with pytest.raises(Retry) as retry:
            await render_invoice({"app": client.app, "job_try": 2}, order["id"])
        assert retry.value.defer_score == 20_000  # milliseconds: later with every try
        assert (await invoice_row(client.app, order["id"]))["storage_key"] is None

        await proxy.restart()
        key = await render_invoice({"app": client.app, "job_try": 3}, order["id"])
        assert (await invoice_row(client.app, order["id"]))["storage_key"] == key
        resp = await client.get(invoice_url(order["id"]), headers=buyer["headers"], allow_redirects=False)
        assert resp.status == 302
    finally:
        await proxy.close()


async def test_storage_reconciliation_keeps_stored_invoices(client):
    buyer = await make_user(client)
    product = await sold(client, "seller_reconcile")
    kept, gone = [await paid_order(client, buyer, product) for _ in range(2)]
    for order in (kept, gone):
        assert (await client.get(invoice_url(order["id"]), headers=buyer["headers"])).status == 200
    kept_key, gone_key = [(await invoice_row(client.app, order["id"]))["storage_key"] for order in (kept, gone)]
    await client.app[STORAGE].delete(gone_key)
    orphan = f"invoices/2020/{uuid.uuid4()}.pdf"  # a render whose row never committed

    async def chunks():
        yield b"%PDF-"

    await client.app[STORAGE].put(orphan, chunks())

    result = await reconcile(client.app, now=datetime.now(UTC) + timedelta(days=2))

    assert await stored_invoices(client.app) == [kept_key]
    assert (result.orphans_deleted, result.missing) == (1, 1)
    assert result.missing_rows == [
        {"table": "invoices", "id": str((await invoice_row(client.app, gone["id"]))["id"]), "storage_key": gone_key}
    ]


def test_the_document_describes_the_pdf_answer(app):
    operation = build_spec(app)["paths"]["/api/v1/marketplace/orders/{id}/invoice"]["get"]
    assert operation["responses"]["200"]["content"] == {PDF: {"schema": {"type": "string", "format": "binary"}}}
    assert {"401", "404", "409", "416", "503"} <= set(operation["responses"])
    assert operation["security"] == [{"bearerAuth": []}]


async def test_renders_waiting_their_turn_leave_the_default_threads_free():
    """Renders run one at a time: queued ones wait on the event loop, not in the default executor's few
    threads, which storage and password hashing share."""
    app = web.Application()
    app[INVOICE_RENDERING] = asyncio.Lock()
    document = invoice_document(
        {"year": 2026, "number": 7, "created_at": datetime.now(UTC)},
        {"id": uuid.uuid4(), "currency": "EUR", "total_cents": 1500},
        {"username": "ada_buyer", "email": "ada@example.com"},
        [{"title": "Kit", "seller": {"username": "sam_seller"}, "quantity": 1, "unit_price_cents": 1500}],
    )
    renders = [asyncio.ensure_future(render_in_turn(app, document)) for _ in range(60)]  # ~1 s of rendering
    await asyncio.sleep(0.01)
    threads_free = await asyncio.wait_for(
        asyncio.gather(*(asyncio.to_thread(lambda: True) for _ in range(6))), timeout=0.5
    )
    assert threads_free == [True] * 6
    assert not all(render.done() for render in renders)  # the renders were still queued meanwhile
    pdfs = await asyncio.gather(*renders)
    assert all(PdfReader(io.BytesIO(pdf)).pages for pdf in pdfs)
