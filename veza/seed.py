"""Demo data for `make run`: idempotent, so running it again changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from veza import db
from veza.settings import Settings

log = logging.getLogger(__name__)

# Each domain that has demo data adds its seeder here: async fn(Database) -> rows created.
SEEDERS: list[Callable[[db.Database], Awaitable[int]]] = []


async def seed(settings: Settings) -> int:
    database = await db.connect(settings.database_url, 1, 2)
    try:
        created = 0
        for seeder in SEEDERS:
            created += await seeder(database)
    finally:
        await database.close()
    log.info("seed: %d new rows", created)
    return created
