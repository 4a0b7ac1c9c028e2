"""A small world of real objects in every domain, made through the API, for tests that call every route.

Four callers: `owner` (owns one of everything: files, a share link, a stream, gear with a repair and a
document, a product, an export, a notification, orders bought from `seller`), `other` (a user with
nothing), `seller` (role seller; sells the products `owner` bought, so a party to `owner`'s orders) and
`admin`. The payment sandbox refuses `seller`'s first payout once, so there is a failed transfer for
`admin` to retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from tests.factories import (
    bearer,
    checkout,
    connected_seller,
    make_product,
    make_user,
    paid_order,
    run_burst_worker,
    upload_file,
)
from tests.gear.helpers_docs import upload_document
from tests.payments.helpers import worker_settings
from veza.keys import DB, STORAGE
from veza.notifications.service import notify
from veza.payments.sandbox_connect import fail_next_transfers

API = "/api/v1"
CALLERS = ("owner", "other", "seller", "admin")
ROLES = {"owner": "user", "other": "user", "seller": "seller", "admin": "admin"}
RTMP_SECRET = "rtmp-callback-secret-for-the-matrix"
STRIPE_WEBHOOK_SECRET = "whsec_matrix"
METRICS_TOKEN = "metrics-token-for-the-matrix"
SETTINGS_UPDATE = {
    "rtmp_callback_secret": RTMP_SECRET,
    "stripe_webhook_secret": STRIPE_WEBHOOK_SECRET,
    "metrics_token": METRICS_TOKEN,
}


@dataclass
class World:
    users: dict[str, dict[str, Any]]
    ids: dict[str, Any] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {} if who == "anonymous" else dict(self.users[who]["headers"])

    def user_id(self, who: str) -> str:
        return self.users[who]["user"]["id"]


async def _data(resp, status: int) -> Any:
    assert resp.status == status, f"{resp.method} {resp.url.path}: {resp.status} {await resp.text()}"
    return (await resp.json())["data"]


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


async def make_world(client) -> World:
    users = {who: await make_user(client, role=ROLES[who]) for who in CALLERS}
    world = World(users)
    ids = world.ids
    owner = users["owner"]
    headers = owner["headers"]

    file = await upload_file(client, owner)
    ids["file"] = file["id"]
    await _data(await client.post(f"{API}/cloud/files/{file['id']}/versions", headers=headers), 201)
    share = await _data(await client.post(f"{API}/cloud/files/{file['id']}/share", json={}, headers=headers), 200)
    ids["share"], ids["share_token"] = share["id"], share["token"]
    key = await client.app[DB].fetch_val(
        "SELECT storage_key FROM cloud_file_versions WHERE file_id = %s AND version = 1", (file["id"],)
    )
    ids["storage_key"] = key
    ids["storage_link"] = _query(await client.app[STORAGE].presign(key, 3600, "beat.wav"))

    stream = await _data(await client.post(f"{API}/live/streams", json={"title": "Matrix"}, headers=headers), 201)
    ids["stream"], ids["stream_key"] = stream["id"], stream["stream_key"]

    note = await notify(client.app, UUID(owner["user"]["id"]), "matrix", "A notification to read")
    ids["notification"] = str(note["id"])

    gear_body = {"name": "Matrix mic", "purchase_date": "2024-02-29", "warranty_months": 24}
    gear = await _data(await client.post(f"{API}/inventory/gear", json=gear_body, headers=headers), 201)
    ids["gear"] = gear["id"]
    repair_body = {"repair_date": "2025-01-10", "description": "Cleaned the grille"}
    repair = await _data(
        await client.post(f"{API}/inventory/gear/{gear['id']}/repairs", json=repair_body, headers=headers), 201
    )
    ids["repair"] = repair["id"]
    ids["document"] = (await _data(await upload_document(client, owner, gear["id"]), 201))["id"]

    ids["product"] = (await make_product(client, owner, title="Owner's own"))["id"]

    seller = await connected_seller(client, users["seller"])
    await fail_next_transfers(client.app[DB], seller["account_id"], 1)
    bought = [await make_product(client, seller, title=f"Sold {n}") for n in range(4)]
    ids["for_sale"] = (await make_product(client, seller, title="For sale"))["id"]
    ids["bought_product"] = bought[0]["id"]
    ids["order"] = (await paid_order(client, owner, bought[0]))["id"]
    ids["refund_orders"] = {
        "owner": (await paid_order(client, owner, bought[1]))["id"],
        "seller": (await paid_order(client, owner, bought[2]))["id"],
    }
    pending = await checkout(client, owner, bought[3])
    ids["pending_order"], ids["payment"] = pending["order"]["id"], pending["payment"]["payment_id"]

    onboarding = await _data(await client.post(f"{API}/sell/connect/onboard", headers=headers), 200)
    ids["onboarding_link"] = _query(onboarding["onboarding_url"])

    await run_burst_worker(worker_settings(client))  # invoices, the export, payouts (one refused)
    ids["failed_transfer"] = await client.app[DB].fetch_val(
        "SELECT id::text FROM seller_transfers WHERE status = 'failed'"
    )
    assert ids["failed_transfer"] is not None
    return world


async def fresh_session(client, world: World, who: str) -> dict[str, str]:
    """Bearer headers of a new session of `who`'s, for a call that ends the session it is made in."""
    user = world.users[who]
    resp = await client.post(f"{API}/auth/login", json={"email": user["user"]["email"], "password": user["password"]})
    return bearer((await _data(resp, 200))["access_token"])
