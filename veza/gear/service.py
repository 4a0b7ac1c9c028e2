"""Rules of gear items: the warranty resolved from months or a date, merged edits checked whole, and an
item's deletion taking its documents' blobs and their bytes of the owner's quota with it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp import web

from veza.db import Row, transaction
from veza.errors import Invalid, NotFound
from veza.gear import documents, queries
from veza.gear.models import LATEST, GearIn, GearUpdate, RepairIn
from veza.gear.warranty import add_months, utc_today, warranty_badge
from veza.http import validate
from veza.keys import DB
from veza.tags.normalize import normalize_tags


def invalid(field: str, message: str) -> Invalid:
    return Invalid(details=[{"field": field, "message": message}])


def present(row: Row) -> Row:
    """An item as answered: its row with the warranty badge of today (UTC)."""
    return {**row, "warranty": warranty_badge(row["warranty_expires_at"], row["lifetime_warranty"], utc_today())}


def stored_fields(item: GearIn) -> dict[str, Any]:
    """The columns of a checked item: tags normalised, the warranty months turned into an expiry date."""
    fields = item.model_dump(exclude={"warranty_months"})
    fields["tags"] = normalize_tags(item.tags)
    if item.warranty_months is not None:
        if item.warranty_expires_at is not None:
            raise invalid("warranty_months", "give warranty_months or warranty_expires_at, not both")
        if item.purchase_date is None:
            raise invalid("warranty_months", "needs a purchase_date to count from")
        fields["warranty_expires_at"] = add_months(item.purchase_date, item.warranty_months)
        if fields["warranty_expires_at"] > LATEST:
            raise invalid("warranty_months", f"the expiry would be after {LATEST}")
    expires, bought = fields["warranty_expires_at"], item.purchase_date
    if expires is not None and bought is not None and expires < bought:
        raise invalid("warranty_expires_at", f"the warranty cannot end before the purchase date {bought}")
    return fields


async def create_item(app: web.Application, owner_id: UUID, item: GearIn) -> Row:
    return present(await queries.insert_item(app[DB], owner_id, stored_fields(item)))


async def get_item(app: web.Application, owner_id: UUID, item_id: UUID) -> Row:
    return present(await queries.get_item(app[DB], item_id, owner_id))


async def update_item(app: web.Application, owner_id: UUID, item_id: UUID, changes: GearUpdate) -> Row:
    """The item with `changes` applied; the merged item is validated as a new one would be."""
    changed = changes.model_dump(exclude_unset=True)
    async with transaction(app[DB]) as tx:
        row = await queries.get_item(tx, item_id, owner_id, lock=True)
        merged = {column: row[column] for column in queries.EDITABLE_COLUMNS}
        if changed.get("warranty_months") is not None and "warranty_expires_at" not in changed:
            merged.pop("warranty_expires_at")  # the months replace the stored expiry
        merged.update(changed)
        item = validate(GearIn, merged)
        return present(await queries.update_item(tx, item_id, stored_fields(item)))


async def delete_item(app: web.Application, owner_id: UUID, item_id: UUID) -> None:
    """The item with its repairs and documents; the documents' bytes go back to the owner's quota
    in the same transaction, and their blobs are deleted once it is committed."""
    async with transaction(app[DB]) as tx:
        await queries.get_item(tx, item_id, owner_id, lock=True)
        await documents.delete_item_documents(app, tx, owner_id, item_id)
        await queries.delete_item(tx, item_id, owner_id)


# Repairs.


async def add_repair(app: web.Application, owner_id: UUID, item_id: UUID, repair: RepairIn) -> Row:
    async with transaction(app[DB]) as tx:
        await queries.get_item(tx, item_id, owner_id, lock=True)  # not the item's deletion racing the insert
        return await queries.insert_repair(tx, item_id, repair.model_dump())


async def list_repairs(app: web.Application, owner_id: UUID, item_id: UUID, limit: int, offset: int):
    db = app[DB]
    await queries.get_item(db, item_id, owner_id)
    return await queries.page_repairs(db, item_id, limit=limit, offset=offset)


async def delete_repair(app: web.Application, owner_id: UUID, item_id: UUID, repair_id: UUID) -> None:
    async with transaction(app[DB]) as tx:
        await queries.get_item(tx, item_id, owner_id)
        if not await queries.delete_repair(tx, item_id, repair_id):
            raise NotFound(queries.REPAIR_NOT_FOUND)
