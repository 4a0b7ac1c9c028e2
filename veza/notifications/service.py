"""notify(): store a notification, then publish it once the transaction has committed."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp import web

from veza.db import Transaction, transaction
from veza.keys import DB
from veza.notifications import queries
from veza.notifications.models import NotificationOut
from veza.realtime.publish import publish_to_user


async def notify(
    app: web.Application,
    user_id: UUID,
    type_: str,
    title: str,
    body: str = "",
    data: dict[str, Any] | None = None,
    *,
    tx: Transaction | None = None,
) -> dict[str, Any]:
    """Store first (a client that was away reads it over REST), publish after commit.

    Inside a caller's transaction pass `tx`; the event then waits for that commit.
    """
    if tx is None:
        async with transaction(app[DB]) as own:
            return await notify(app, user_id, type_, title, body, data, tx=own)
    row = await queries.insert(tx, user_id, type_, title, body, data or {})
    event = NotificationOut.model_validate(row).model_dump(mode="json")
    tx.after_commit(publish_to_user, app, user_id, "notifications", "notification.created", event)
    return row
