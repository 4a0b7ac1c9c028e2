"""A purchase end to end on the sandbox, through the API and the worker only:
product -> order -> confirm -> webhook job -> completed -> license -> download -> review -> invoice."""

from __future__ import annotations

import io

from pypdf import PdfReader

from tests.factories import checkout, confirm_payment, make_product, make_user, run_burst_worker, upload_file
from tests.payments.helpers import worker_settings
from veza.keys import DB

API = "/api/v1"


async def test_buy_download_review_and_get_the_invoice(client):
    seller = await make_user(client, username="nightowl")
    buyer = await make_user(client, username="fan")
    asset = await upload_file(client, seller, name="night-drive.wav", content=b"RIFF-night-drive-WAVE")
    product = await make_product(client, seller, title="Night Drive", price_cents=2999, asset_file_id=asset["id"])
    download = f"{API}/marketplace/products/{product['id']}/download"
    assert (await client.get(download, headers=buyer["headers"])).status == 404  # not bought yet

    created = await checkout(client, buyer, product)
    order_id = created["order"]["id"]
    await confirm_payment(client, buyer, created["payment"]["payment_id"])
    # the sandbox's webhook, then the invoice job the completion queued, both run by the worker
    await run_burst_worker(worker_settings(client))
    invoice = await client.app[DB].fetch_one(
        "SELECT year, number, storage_key FROM invoices WHERE order_id = %s", (order_id,)
    )
    assert invoice["storage_key"] == f"invoices/{invoice['year']}/{order_id}.pdf"  # rendered by the job

    resp = await client.get(f"{API}/marketplace/orders/{order_id}", headers=buyer["headers"])
    order = (await resp.json())["data"]
    assert (order["status"], order["total_cents"], order["currency"]) == ("completed", 2999, "EUR")

    resp = await client.get(download, headers=buyer["headers"])
    assert (resp.status, await resp.read()) == (200, b"RIFF-night-drive-WAVE")
    assert 'filename="Night Drive.wav"' in resp.headers["Content-Disposition"]

    resp = await client.post(
        f"{API}/marketplace/products/{product['id']}/reviews",
        json={"rating": 5, "comment": "Plays all night"},
        headers=buyer["headers"],
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["data"]["order_id"] == order_id
    shown = (await (await client.get(f"{API}/marketplace/products/{product['id']}")).json())["data"]
    assert (shown["rating_avg"], shown["review_count"], shown["sales_count"]) == (5.0, 1, 1)

    resp = await client.get(f"{API}/marketplace/orders/{order_id}/invoice", headers=buyer["headers"])
    assert (resp.status, resp.content_type) == (200, "application/pdf")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(await resp.read())).pages)
    for shown_text in (f"{invoice['year']}-{invoice['number']:06d}", "nightowl", "fan", "Night Drive", "29.99 EUR"):
        assert shown_text in text
