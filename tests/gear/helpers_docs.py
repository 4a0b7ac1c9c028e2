"""Gear items inserted directly (an expiry alone, no other field needed), and the documents' requests."""

from __future__ import annotations

from datetime import date
from typing import Any

import aiohttp

from veza.keys import DB, STORAGE

GEAR = "/api/v1/inventory/gear"


async def make_item(
    app, owner: dict[str, Any], name: str = "Synth", *, expires: date | None = None, lifetime: bool = False
) -> str:
    """A gear item of `owner`'s; its id."""
    return str(
        await app[DB].fetch_val(
            """INSERT INTO gear_items (owner_id, name, warranty_expires_at, lifetime_warranty)
            VALUES (%s, %s, %s, %s) RETURNING id""",
            (owner["user"]["id"], name, expires, lifetime),
        )
    )


def document_form(
    data: bytes = b"%PDF-1.7 invoice", *, type_: str | None = "invoice", filename: str = "invoice.pdf"
) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type="application/pdf")
    if type_ is not None:
        form.add_field("type", type_)
    return form


async def upload_document(client, user: dict[str, Any], item_id: str, **kwargs: Any) -> aiohttp.ClientResponse:
    return await client.post(f"{GEAR}/{item_id}/documents", data=document_form(**kwargs), headers=user["headers"])


async def user_blobs(app, user: dict[str, Any]) -> list[str]:
    """The keys stored under the user's gear folder (local storage)."""
    folder = app[STORAGE].root / "gear" / user["user"]["id"]
    if not folder.exists():
        return []
    return sorted(str(path.relative_to(app[STORAGE].root)) for path in folder.rglob("*") if path.is_file())


async def used_bytes(app, user: dict[str, Any]) -> int:
    value = await app[DB].fetch_val("SELECT used_bytes FROM cloud_usage WHERE user_id = %s", (user["user"]["id"],))
    return value or 0
