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

from veza.auth.passwords import Passwords
from veza.auth.service import check_password
from veza.cloud import queries as cloud
from veza.cloud.names import storage_key
from veza.db import Transaction, transaction
from veza.keys import DB, PASSWORDS, STORAGE
from veza.live import queries as live
from veza.live.service import new_stream_key
from veza.marketplace import queries as marketplace
from veza.resources import running_resources
from veza.settings import ConfigError, Settings
from veza.tags.normalize import normalize_tags
from veza.users import queries as users

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


async def store_blob(app: web.Application, owner_id: uuid.UUID, content: bytes) -> dict[str, Any]:
    """Write one demo file's blob; the rows naming it are inserted later, in the seed's transaction."""
    file_id, version_id = uuid.uuid4(), uuid.uuid4()
    key = storage_key(owner_id, file_id, version_id)

    async def chunks():
        yield content

    size = await app[STORAGE].put(key, chunks())
    fields = {"size_bytes": size, "content_type": "audio/wav", "sha256": hashlib.sha256(content).digest()}
    return {"file_id": file_id, "version_id": version_id, "storage_key": key, **fields}


async def insert_file(tx: Transaction, owner_id: uuid.UUID, name: str, blob: dict[str, Any]) -> uuid.UUID:
    fields = {key: blob[key] for key in ("size_bytes", "content_type", "sha256")}
    await cloud.insert_file(tx, {"id": blob["file_id"], "user_id": owner_id, "name": name, "tags": [], **fields})
    version = {"id": blob["version_id"], "file_id": blob["file_id"], "version": 1, "storage_key": blob["storage_key"]}
    await cloud.insert_version(tx, {**version, **fields})
    await cloud.lock_usage(tx, owner_id)
    await cloud.add_used(tx, owner_id, blob["size_bytes"])
    return blob["file_id"]


async def new_account(tx: Transaction, passwords: Passwords, account: dict[str, str], role: str) -> dict[str, Any]:
    check_password(account["password"], username=account["username"], email=account["email"])
    password_hash = await passwords.hash(account["password"])
    return await users.insert_user(tx, account["username"], account["email"], password_hash, role)


async def seed_demo(app: web.Application) -> int:
    """Create the demo data unless it is there; return how many products were listed.

    The blobs are written first, outside any transaction; the rows (accounts included) are one
    transaction, so that a run that failed left nothing behind and can simply be run again.
    """
    if await users.find_login(app[DB], SELLER["email"]) is not None:
        return 0
    seller_id = uuid.uuid4()
    blobs = [await store_blob(app, seller_id, tone(frequency)) for *_, frequency in CATALOG]
    try:
        async with transaction(app[DB]) as tx:
            seller = await new_account(tx, app[PASSWORDS], SELLER, "seller")
            # The blobs' keys name their owner: the seller takes the id they were written under.
            await tx.execute("UPDATE users SET id = %s WHERE id = %s", (seller_id, seller["id"]))
            await new_account(tx, app[PASSWORDS], FAN, "user")
            for (title, kind, price, tags, _), blob in zip(CATALOG, blobs, strict=True):
                asset = await insert_file(tx, seller_id, f"{title}.wav", blob)
                await marketplace.insert_product(
                    tx,
                    seller_id,
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
            await live.insert_key_if_missing(tx, seller_id, new_stream_key())
            await live.insert_stream(
                tx,
                seller_id,
                {"title": "Studio session", "description": "Making a beat live", "category": "music", "tags": ["live"]},
            )
    except BaseException:
        for blob in blobs:
            await app[STORAGE].delete(blob["storage_key"])
        raise
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
