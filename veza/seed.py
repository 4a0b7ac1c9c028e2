"""Demo data for `make run`: two accounts, a small catalog, a stream. Idempotent; refused in production."""

from __future__ import annotations

import hashlib
import io
import logging
import math
import struct
import uuid
import wave
from typing import Any

from aiohttp import web

from veza.cloud import queries as cloud
from veza.cloud.names import storage_key
from veza.db import transaction
from veza.keys import DB, STORAGE
from veza.live import queries as live
from veza.live.service import new_stream_key
from veza.marketplace import queries as marketplace
from veza.resources import running_resources
from veza.settings import ConfigError, Settings
from veza.tags.normalize import normalize_tags
from veza.users import queries as users
from veza.users.service import create_user

log = logging.getLogger(__name__)

SELLER = {"username": "demo-seller", "email": "seller@veza.local", "password": "Veza-Demo-Seller-1"}
FAN = {"username": "demo-fan", "email": "fan@veza.local", "password": "Veza-Demo-Fan-1"}
CATALOG = [
    ("Night Drive", "beat", 2999, ["synthwave", "retro", "night"], 110.0),
    ("Morning Coffee", "track", 1499, ["lo-fi", "chill", "jazz"], 220.0),
    ("Trap Kit Vol. 1", "sample_pack", 3900, ["trap", "drums", "808"], 55.0),
    ("Analog Pads", "preset", 1900, ["synth", "pads", "ambient"], 330.0),
    ("Boom Bap Breaks", "sample_pack", 2500, ["hip-hop", "boom-bap", "drums"], 82.5),
    ("Sunset Groove", "beat", 3499, ["afrobeat", "groove", "summer"], 165.0),
]


def tone(frequency: float, seconds: float = 1.0, rate: int = 22050) -> bytes:
    """A short mono WAV: something real to download and play."""
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * frequency * n / rate))) for n in range(int(rate * seconds))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


async def store_file(app: web.Application, tx: Any, owner_id: uuid.UUID, name: str, content: bytes) -> uuid.UUID:
    file_id, version_id = uuid.uuid4(), uuid.uuid4()
    key = storage_key(owner_id, file_id, version_id)

    async def chunks():
        yield content

    size = await app[STORAGE].put(key, chunks())
    digest = hashlib.sha256(content).digest()
    fields = {"size_bytes": size, "content_type": "audio/wav", "sha256": digest}
    await cloud.insert_file(tx, {"id": file_id, "user_id": owner_id, "name": name, "tags": [], **fields})
    await cloud.insert_version(tx, {"id": version_id, "file_id": file_id, "version": 1, "storage_key": key, **fields})
    await cloud.lock_usage(tx, owner_id)
    await cloud.add_used(tx, owner_id, size)
    return file_id


async def seed_demo(app: web.Application) -> int:
    """Create the demo data unless it is there; return how many products were listed."""
    if await users.find_login(app[DB], SELLER["email"]) is not None:
        return 0
    seller = await create_user(app, **SELLER, role="seller")
    await create_user(app, **FAN, role="user")
    # The seed runs once, from `veza dev`, before anyone else: no other writer races these rows.
    async with transaction(app[DB]) as tx:
        for title, kind, price, tags, frequency in CATALOG:
            asset = await store_file(app, tx, seller["id"], f"{title}.wav", tone(frequency))
            await marketplace.insert_product(
                tx,
                seller["id"],
                {
                    "asset_file_id": asset,
                    "title": title,
                    "description": f"{title}: a demo {kind.replace('_', ' ')} from the Veza seed.",
                    "kind": kind,
                    "price_cents": price,
                    "currency": "EUR",
                    "tags": normalize_tags(tags),
                },
            )
        await live.insert_key_if_missing(tx, seller["id"], new_stream_key())
        await live.insert_stream(
            tx,
            seller["id"],
            {"title": "Studio session", "description": "Making a beat live", "category": "music", "tags": ["live"]},
        )
    return len(CATALOG)


async def seed(settings: Settings) -> int:
    if settings.is_production:
        raise ConfigError("the demo data (with known passwords) is not for production")
    async with running_resources(settings) as app:
        created = await seed_demo(app)
    if created:
        log.info("seed: demo catalog of %d products; log in as %s / %s", created, SELLER["email"], SELLER["password"])
    else:
        log.info("seed: demo data already present")
    return created
