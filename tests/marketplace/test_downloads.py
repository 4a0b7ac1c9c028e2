"""Downloads of what a product sells: its buyers (active license) and its seller get the file, nobody else."""

import uuid

from aiohttp.multipart import content_disposition_filename, parse_content_disposition

from tests.cloud.conftest import cloud_settings, s3_changes
from tests.cloud.helpers import fetch, put_content
from tests.factories import make_product, paid_order, register, upload_file
from veza.app import create_app
from veza.keys import DB
from veza.marketplace import assets
from veza.marketplace.assets import download_name

PRODUCTS = "/api/v1/marketplace/products"
CONTENT = b"RIFF" + bytes(range(256)) * 8  # 2052 bytes


def download_path(product) -> str:
    return f"{PRODUCTS}/{product['id']}/download"


async def sold(client, title: str = "Night Drive", file_name: str = "beat.wav") -> tuple[dict, dict, dict]:
    """A seller, a product of theirs selling CONTENT, and a buyer holding a completed order of it."""
    seller = await register(client)
    asset = await upload_file(client, seller, name=file_name, content=CONTENT)
    resp = await client.post(
        PRODUCTS,
        json={"title": title, "kind": "beat", "price_cents": 2999, "asset_file_id": asset["id"]},
        headers=seller["headers"],
    )
    assert resp.status == 201, await resp.text()
    product = (await resp.json())["data"]
    buyer = await register(client)
    buyer["order"] = await paid_order(client, buyer, product)
    return seller, product, buyer


def filename_of(headers) -> str:
    return content_disposition_filename(parse_content_disposition(headers["Content-Disposition"])[1], "filename")


async def test_a_buyer_downloads_the_file_named_after_the_product(client):
    _, product, buyer = await sold(client)
    resp = await client.get(download_path(product), headers=buyer["headers"])
    assert resp.status == 200
    assert await resp.read() == CONTENT
    assert resp.headers["Content-Type"] == "audio/wav"
    assert resp.headers["Content-Length"] == str(len(CONTENT))
    assert resp.headers["Accept-Ranges"] == "bytes"
    assert resp.headers["Cache-Control"] == "private, no-store"
    assert resp.headers["Content-Disposition"] == (
        "attachment; filename=\"Night Drive.wav\"; filename*=UTF-8''Night%20Drive.wav"
    )


async def test_a_byte_range_is_206(client):
    _, product, buyer = await sold(client)
    resp = await client.get(download_path(product), headers={**buyer["headers"], "Range": "bytes=4-259"})
    assert resp.status == 206
    assert await resp.read() == CONTENT[4:260]
    assert resp.headers["Content-Range"] == f"bytes 4-259/{len(CONTENT)}"
    assert resp.headers["Content-Length"] == "256"
    tail = await client.get(download_path(product), headers={**buyer["headers"], "Range": "bytes=-4"})
    assert (tail.status, await tail.read()) == (206, CONTENT[-4:])
    beyond = await client.get(download_path(product), headers={**buyer["headers"], "Range": "bytes=5000-"})
    assert beyond.status == 416


async def test_the_seller_downloads_their_product(client):
    seller, product, _ = await sold(client)
    resp = await client.get(download_path(product), headers=seller["headers"])
    assert resp.status == 200
    assert await resp.read() == CONTENT


async def test_a_product_nobody_bought_is_downloadable_by_its_seller_only(client):
    seller = await register(client)
    product = await make_product(client, seller)
    assert (await client.get(download_path(product), headers=seller["headers"])).status == 200
    assert (await client.get(download_path(product), headers=(await register(client))["headers"])).status == 404


async def test_buyers_get_the_files_current_version(client):
    seller, product, buyer = await sold(client)
    asset_id = await client.app[DB].fetch_val("SELECT asset_file_id FROM products WHERE id = %s", (product["id"],))
    resp = await put_content(client, seller, str(asset_id), b"remastered", filename="v2.wav")
    assert resp.status == 200
    resp = await client.get(download_path(product), headers=buyer["headers"])
    assert (resp.status, await resp.read()) == (200, b"remastered")


async def test_an_archived_product_stays_downloadable_by_its_buyers(client):
    seller, product, buyer = await sold(client)
    assert (await client.delete(f"{PRODUCTS}/{product['id']}", headers=seller["headers"])).status == 200
    assert (await client.get(f"{PRODUCTS}/{product['id']}")).status == 404
    resp = await client.get(download_path(product), headers=buyer["headers"])
    assert (resp.status, await resp.read()) == (200, CONTENT)


async def test_anyone_else_gets_404(client):
    seller, product, buyer = await sold(client)
    other = await register(client)
    for headers in (other["headers"], buyer["headers"]):
        for path in (f"{PRODUCTS}/{uuid.uuid4()}/download", f"{PRODUCTS}/not-a-uuid/download"):
            resp = await client.get(path, headers=headers)
            assert resp.status == 404
            assert (await resp.json())["code"] == "not_found"
    resp = await client.get(download_path(product), headers=other["headers"])
    assert resp.status == 404
    assert (await resp.json())["error"] == "Product not found"
    # a buyer of another product of the seller's
    other_product = await make_product(client, seller, title="Other")
    assert (await client.get(download_path(other_product), headers=buyer["headers"])).status == 404


async def test_a_revoked_license_is_404(client):
    _, product, buyer = await sold(client)
    await client.app[DB].execute(
        "UPDATE licenses SET status = 'revoked', revoked_at = now() WHERE order_id = %s", (buyer["order"]["id"],)
    )
    resp = await client.get(download_path(product), headers=buyer["headers"])
    assert resp.status == 404
    # a later purchase gives it back
    await paid_order(client, buyer, product)
    assert (await client.get(download_path(product), headers=buyer["headers"])).status == 200


async def test_no_token_is_401(client):
    _, product, _ = await sold(client)
    resp = await client.get(download_path(product))
    assert resp.status == 401
    assert (await resp.json())["code"] == "unauthorized"


async def test_downloads_are_rate_limited_per_user(client, monkeypatch):
    monkeypatch.setattr(assets, "DOWNLOADS_PER_MINUTE", 2)
    seller, product, buyer = await sold(client)
    for _ in range(2):
        assert (await client.get(download_path(product), headers=buyer["headers"])).status == 200
    resp = await client.get(download_path(product), headers=buyer["headers"])
    assert resp.status == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    # another user has a count of their own
    assert (await client.get(download_path(product), headers=seller["headers"])).status == 200


async def test_on_s3_the_download_is_a_redirect_to_a_presigned_url_with_the_products_name(
    aiohttp_client, settings, tmp_path, moto_endpoint
):
    client = await aiohttp_client(create_app(cloud_settings(settings, tmp_path, **s3_changes(moto_endpoint))))
    _, product, buyer = await sold(client, title="Café Sessions", file_name="take.flac")
    first = await client.get(download_path(product), headers=buyer["headers"], allow_redirects=False)
    assert first.status == 302
    status, headers, body = await fetch(client, download_path(product), buyer["headers"])
    assert (status, body) == (200, CONTENT)
    assert filename_of(headers) == "Café Sessions.flac"


def test_the_download_name_is_the_title_with_the_files_extension():
    assert download_name("Night Drive", "beat.wav") == "Night Drive.wav"
    assert download_name("AC/DC Tribute", "x.mp3") == "AC-DC Tribute.mp3"
    assert download_name("Loops", "pack.tar.gz") == "Loops.gz"
    assert download_name("No Extension", "README") == "No Extension"
    assert download_name("Odd", "file.not an extension") == "Odd"
    assert download_name("Hidden", ".bashrc") == "Hidden"
    assert download_name("Tabs\tand  spaces", "a.WAV") == "Tabs and spaces.WAV"
