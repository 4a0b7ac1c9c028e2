"""Download links: each route that serves a signed-in user's file also hands out a short-lived link to it,
under the same rules, which downloads the same bytes under the same name without a token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from yarl import URL

from tests.cloud.conftest import cloud_settings, s3_changes
from tests.cloud.helpers import FILES, fetch, put_content, upload_ok
from tests.factories import make_product, make_user, paid_order, upload_file
from tests.gear.helpers import create_item
from tests.gear.helpers_docs import GEAR, upload_document
from veza.app import create_app
from veza.keys import SETTINGS, STORAGE
from veza.marketplace import assets
from veza.storage import local
from veza.storage.local import LINK_PATH
from veza.storage.serve import PRESIGN_SECONDS

PRODUCTS = "/api/v1/marketplace/products"
ORDERS = "/api/v1/marketplace/orders"
TRACK = b"RIFF" + bytes(range(256)) * 4
FIRST, SECOND = b"first take\n", b"second take, longer\n"
MANUAL = b"%PDF-1.7 the manual"


@dataclass
class Target:
    """A file a route serves to `owner`: the route, what its link must download, and the owner's headers."""

    path: str
    headers: dict[str, str]
    content_type: str
    filename: str
    content: bytes | None = None  # None: compare with what the streaming route serves (a rendered PDF)

    @property
    def link(self) -> str:
        route, _, query = self.path.partition("?")
        return f"{route}/link" + (f"?{query}" if query else "")


@pytest.fixture(params=["local", "s3"])
async def client(request, aiohttp_client, settings, tmp_path):
    changes = s3_changes(request.getfixturevalue("moto_endpoint")) if request.param == "s3" else {}
    return await aiohttp_client(create_app(cloud_settings(settings, tmp_path, **changes)))


@pytest.fixture
async def local_client(aiohttp_client, settings, tmp_path):
    return await aiohttp_client(create_app(cloud_settings(settings, tmp_path)))


async def targets(client) -> dict[str, Target]:
    """One file of each kind: a cloud file (current and first version), a product bought, its invoice, a
    gear document."""
    owner = await make_user(client)
    file = await upload_ok(client, owner, FIRST, filename="take.txt", content_type="text/plain")
    resp = await put_content(client, owner, file["id"], SECOND, filename="take.txt", content_type="text/plain")
    assert resp.status == 200, await resp.text()

    seller = await make_user(client)
    asset = await upload_file(client, seller, name="loop.wav", content=TRACK)
    product = await make_product(client, seller, title="Café Loop", asset_file_id=asset["id"])
    order = await paid_order(client, owner, product)

    item = await create_item(client, owner)
    resp = await upload_document(client, owner, item["id"], data=MANUAL, filename="manual.pdf")
    assert resp.status == 201, await resp.text()
    document = (await resp.json())["data"]

    headers = owner["headers"]
    return {
        "cloud": Target(f"{FILES}/{file['id']}/download", headers, "text/plain", "take.txt", SECOND),
        "cloud-version": Target(f"{FILES}/{file['id']}/download?version=1", headers, "text/plain", "take.txt", FIRST),
        "product": Target(f"{PRODUCTS}/{product['id']}/download", headers, "audio/wav", "Café Loop.wav", TRACK),
        "invoice": Target(f"{ORDERS}/{order['id']}/invoice", headers, "application/pdf", "", None),
        "gear": Target(
            f"{GEAR}/{item['id']}/documents/{document['id']}/download", headers, "application/pdf", "manual.pdf", MANUAL
        ),
    }


def filename_of(headers) -> str:
    return content_disposition_filename(parse_content_disposition(headers["Content-Disposition"])[1], "filename")


async def follow(client, url: str) -> tuple[int, dict[str, str], bytes]:
    """GET a link without any of our headers, as a browser navigating to it does."""
    target = URL(url, encoded=True)
    if target.path.startswith(LINK_PATH):  # a signed link to the app itself: ask the test server
        resp = await client.get(target.raw_path_qs)
        return resp.status, dict(resp.headers), await resp.read()
    async with aiohttp.ClientSession() as session, session.get(target) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def test_each_link_downloads_what_its_route_serves(client):
    s3 = not hasattr(client.app[STORAGE], "root")
    for kind, target in (await targets(client)).items():
        before = datetime.now(UTC).replace(microsecond=0)
        resp = await client.get(target.link, headers=target.headers)
        assert resp.status == 200, (kind, await resp.text())
        assert resp.headers["Cache-Control"] == "no-store"
        link = (await resp.json())["data"]
        assert set(link) == {"url", "expires_at"}
        expires_at = datetime.fromisoformat(link["expires_at"])
        lifetime = timedelta(seconds=PRESIGN_SECONDS)
        assert before + lifetime <= expires_at <= datetime.now(UTC) + lifetime

        status, headers, body = await follow(client, link["url"])
        assert status == 200, kind
        _, route_headers, served = await fetch(client, target.path, target.headers)
        assert body == served, kind
        if target.content is not None:
            assert body == target.content, kind
        else:
            assert body.startswith(b"%PDF"), kind
        assert filename_of(headers) == filename_of(route_headers), kind
        if target.filename:
            assert filename_of(headers) == target.filename, kind
        if s3:
            assert link["url"].startswith(f"{client.app[SETTINGS].s3_endpoint_url}/"), kind
            assert "X-Amz-Signature=" in link["url"], kind
            assert headers["Content-Type"] == target.content_type, kind
        else:
            assert link["url"].startswith(f"{client.app[SETTINGS].public_url.rstrip('/')}{LINK_PATH}"), kind


async def test_without_a_token_a_link_is_401(local_client):
    for kind, target in (await targets(local_client)).items():
        resp = await local_client.get(target.link)
        assert resp.status == 401, kind
        assert (await resp.json())["code"] == "unauthorized", kind


async def test_another_users_file_has_no_link(local_client):
    stranger = await make_user(local_client)
    for kind, target in (await targets(local_client)).items():
        resp = await local_client.get(target.link, headers=stranger["headers"])
        assert resp.status == 404, kind
        assert "url" not in await resp.text(), kind


async def test_an_id_that_is_not_a_uuid_or_a_missing_version_is_404(local_client):
    found = await targets(local_client)
    headers = found["cloud"].headers
    for path in (
        f"{FILES}/nope/download/link",
        f"{PRODUCTS}/nope/download/link",
        f"{ORDERS}/nope/invoice/link",
        f"{GEAR}/nope/documents/nope/download/link",
        found["cloud"].link + "?version=7",
    ):
        assert (await local_client.get(path, headers=headers)).status == 404, path


async def test_a_bad_version_is_422_as_for_the_download(local_client):
    target = (await targets(local_client))["cloud"]
    for version in ("0", "x", str(2**31)):
        link = await local_client.get(target.link, params={"version": version}, headers=target.headers)
        download = await local_client.get(target.path, params={"version": version}, headers=target.headers)
        assert link.status == download.status == 422, version


async def test_an_unpaid_order_has_no_invoice_link(local_client):
    buyer, seller = await make_user(local_client), await make_user(local_client)
    product = await make_product(local_client, seller)
    resp = await local_client.post(
        ORDERS, json={"items": [{"product_id": product["id"], "quantity": 1}], "payment_method": "card"},
        headers=buyer["headers"],
    )  # fmt: skip
    order_id = (await resp.json())["data"]["order"]["id"]
    resp = await local_client.get(f"{ORDERS}/{order_id}/invoice/link", headers=buyer["headers"])
    assert resp.status == 409
    assert (await resp.json())["code"] == "order_not_paid"


async def test_product_links_count_in_the_download_rate_limit(local_client, monkeypatch):
    monkeypatch.setattr(assets, "DOWNLOADS_PER_MINUTE", 2)
    target = (await targets(local_client))["product"]
    assert (await local_client.get(target.link, headers=target.headers)).status == 200
    assert (await local_client.get(target.path, headers=target.headers)).status == 200
    resp = await local_client.get(target.link, headers=target.headers)
    assert resp.status == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 60


async def test_a_local_link_stops_working_when_it_expires(local_client, monkeypatch):
    target = (await targets(local_client))["gear"]
    link = (await (await local_client.get(target.link, headers=target.headers)).json())["data"]
    assert (await follow(local_client, link["url"]))[0] == 200
    expiry = datetime.fromisoformat(link["expires_at"]).timestamp()
    monkeypatch.setattr(local, "time", SimpleNamespace(time=lambda: expiry + 1))  # the link's checker only
    assert (await follow(local_client, link["url"]))[0] == 404
