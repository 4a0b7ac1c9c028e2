"""The demo data that `make run` loads."""

import subprocess
import sys

import pytest

from veza.db import UniqueViolation
from veza.keys import DB, STORAGE
from veza.seed import CATALOG, FAN, SELLER, seed_demo
from veza.settings import SECRETS

pytestmark = pytest.mark.slow


async def test_seed_makes_a_usable_demo_and_runs_once(client):
    assert await seed_demo(client.app) == len(CATALOG)
    assert await seed_demo(client.app) == 0  # idempotent

    catalog = (await (await client.get("/api/v1/marketplace/products?limit=100")).json())["data"]
    assert catalog["total"] == len(CATALOG)
    assert {p["seller"]["username"] for p in catalog["products"]} == {SELLER["username"]}

    login = await client.post("/api/v1/auth/login", json={"email": SELLER["email"], "password": SELLER["password"]})
    assert login.status == 200
    headers = {"Authorization": f"Bearer {(await login.json())['data']['access_token']}"}
    files = (await (await client.get("/api/v1/cloud/files", headers=headers)).json())["data"]
    assert files["total"] == len(CATALOG)
    download = await client.get(f"/api/v1/cloud/files/{files['files'][0]['id']}/download", headers=headers)
    assert download.status == 200
    assert (await download.read())[:4] == b"RIFF"
    streams = (await (await client.get("/api/v1/live/streams/me", headers=headers)).json())["data"]
    assert streams["total"] == 1
    fan = await client.post("/api/v1/auth/login", json={"email": FAN["email"], "password": FAN["password"]})
    assert fan.status == 200
    keys = await client.app[DB].fetch_all("SELECT storage_key FROM cloud_file_versions")
    assert all([await client.app[STORAGE].exists(row["storage_key"]) for row in keys])


def test_seed_is_refused_in_production(database_url):
    env = {
        "VEZA_ENV": "production",
        "DATABASE_URL": database_url,
        "PATH": "/usr/bin:/bin",
        **{name.upper(): "x" * 40 for name in SECRETS},
    }
    proc = subprocess.run([sys.executable, "-m", "veza", "seed"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "not for production" in proc.stderr


async def test_a_failed_seed_leaves_nothing_behind_and_runs_again(client):
    blocker = await client.app[DB].fetch_val(
        "INSERT INTO users (username, email, password_hash) VALUES (%s, 'other@example.com', 'x') RETURNING id",
        (FAN["username"],),
    )
    stored = [blob.key async for blob in client.app[STORAGE].scan("")]
    with pytest.raises(UniqueViolation):
        await seed_demo(client.app)
    assert await client.app[DB].fetch_val("SELECT count(*) FROM users") == 1
    assert await client.app[DB].fetch_val("SELECT count(*) FROM cloud_files") == 0
    assert [blob.key async for blob in client.app[STORAGE].scan("")] == stored

    await client.app[DB].execute("DELETE FROM users WHERE id = %s", (blocker,))
    assert await seed_demo(client.app) == len(CATALOG)
    catalog = (await (await client.get("/api/v1/marketplace/products?limit=100")).json())["data"]
    assert catalog["total"] == len(CATALOG)
