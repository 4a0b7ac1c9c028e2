"""The files products sell: downloads for their buyers and sellers, and the rule that keeps a sold file.

The cloud's service calls `release_asset` before it deletes a file; this module imports only the
cloud's queries and names, so no import runs back into the cloud's service.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from uuid import UUID

from aiohttp import web

from veza.auth.tokens import AuthUser
from veza.cloud import queries as cloud_queries
from veza.cloud.names import MAX_EXTENSION_LENGTH, sanitize_name
from veza.db import Row, Transaction
from veza.errors import Conflict
from veza.keys import DB, REDIS
from veza.marketplace import asset_queries as queries
from veza.marketplace.cache import catalog_changed
from veza.ratelimit import limit

DOWNLOADS_PER_MINUTE = 120  # per user; a player seeking through a track asks for many byte ranges


def download_name(title: str, file_name: str) -> str:
    """The product's title with the extension of the file it sells: `Night Drive.wav`."""
    extension = PurePosixPath(file_name).suffix
    if not (1 < len(extension) <= MAX_EXTENSION_LENGTH + 1 and extension[1:].isalnum()):
        extension = ""
    # A slash in a title is no folder: keep the whole title as the name.
    return sanitize_name(title.replace("/", "-").replace("\\", "-") + extension)


async def asset_download(app: web.Application, user: AuthUser, product_id: UUID) -> tuple[Row, str]:
    """The current version of the product's file and its download name, for the product's seller and
    the holders of an active license (archived products included); anyone else gets a 404."""
    await limit(app[REDIS], "product-download", str(user.id), max_hits=DOWNLOADS_PER_MINUTE, per=60)
    db = app[DB]
    product = await queries.downloadable_product(db, product_id, user.id)
    version = await cloud_queries.current_version(db, product["asset_file_id"])
    return version, download_name(product["title"], version["name"])


async def release_asset(app: web.Application, tx: Transaction, file_id: UUID) -> None:
    """Let the file go, in the transaction that deletes it, or refuse with a 409 if an order holds it."""
    if sold := await release_unless_sold(app, tx, file_id):
        raise Conflict(
            f'This file is sold as "{sold[0]["title"]}"; its buyers keep downloading it, so it cannot be deleted. '
            "Archive the product to stop selling it, or upload new content to the file as a new version.",
            code="file_sold",
        )


async def release_unless_sold(app: web.Application, tx: Transaction, file_id: UUID) -> list[Row]:
    """The products selling the file that an order holds; if there are none, the file's products are deleted.

    A product that any order holds (a license, active or revoked, or a payment still pending) keeps
    its file: buyers download it for good, and the order still names the product. A product that no
    order ever held is deleted with its file, as nothing could be sold without it.
    """
    products = await queries.lock_products_selling(tx, file_id)
    if not products:
        return []
    ordered = await queries.ordered_products(tx, [product["id"] for product in products])
    sold = [product for product in products if product["id"] in ordered]
    if not sold:
        await queries.delete_products(tx, [product["id"] for product in products])
        tx.after_commit(catalog_changed, app)
    return sold
