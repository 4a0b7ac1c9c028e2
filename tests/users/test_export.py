"""GDPR data export: POST /users/me/export, the worker's ZIP, the listing, expiry and the sweep."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import timedelta
from typing import Any

import orjson
from yarl import URL

from tests.factories import make_user, run_burst_worker
from tests.payments.helpers import worker_settings
from tests.users.helpers import seed
from veza.keys import ARQ, DB, STORAGE
from veza.users import export

EXPORT = "/api/v1/users/me/export"
EXPORTS = "/api/v1/users/me/exports"
FILES = {"README.txt", "profile.json", *(name for name, _, _ in export.SECTIONS)}


async def ask(client, user: dict[str, Any]):
    return await client.post(EXPORT, headers=user["headers"])


async def shown(client, user: dict[str, Any], export_id: str) -> dict[str, Any]:
    resp = await client.get(f"{EXPORTS}/{export_id}", headers=user["headers"])
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]


async def download(client, url: str) -> bytes:
    resp = await client.get(URL(url).path_qs)
    assert resp.status == 200, await resp.text()
    return await resp.read()


async def notifications(client, user: dict[str, Any]) -> list[dict[str, Any]]:
    resp = await client.get("/api/v1/notifications", headers=user["headers"])
    return (await resp.json())["data"]["notifications"]


def ids(rows: list[dict[str, Any]]) -> set[str]:
    return {row["id"] for row in rows}


async def test_the_archive_holds_every_file_of_the_users_own_data_only(client):
    alice, bob, carol = await make_user(client), await make_user(client), await make_user(client)
    mine = await seed(client, alice, bob)
    theirs = await seed(client, bob, carol)  # trades of bob's that alice has no part in

    resp = await ask(client, alice)
    assert resp.status == 202, await resp.text()
    created = (await resp.json())["data"]
    assert created["status"] == "pending"
    await run_burst_worker(worker_settings(client))

    data = await shown(client, alice, created["export_id"])
    assert data["status"] == "ready"
    archive_bytes = await download(client, data["download_url"])
    assert data["size_bytes"] == len(archive_bytes)
    with zipfile.ZipFile(io.BytesIO(archive_bytes)) as archive:
        assert set(archive.namelist()) == FILES
        files = {name: archive.read(name) for name in archive.namelist()}
    readme = files.pop("README.txt").decode()
    assert all(name in readme for name in FILES - {"README.txt"})
    parsed = {name: orjson.loads(body) for name, body in files.items()}

    assert parsed["profile.json"]["id"] == alice["user"]["id"]
    assert parsed["profile.json"]["email"] == alice["user"]["email"]
    assert "password_hash" not in parsed["profile.json"]
    assert ids(parsed["orders.json"]) == {mine["order"]["id"], mine["refunded_order"]["id"]}
    assert [item["quantity"] for item in parsed["orders.json"][0]["items"]] == [1]
    assert len(parsed["purchases.json"]) == 2
    assert {row["order_id"] for row in parsed["purchases.json"]} == ids(parsed["orders.json"])
    assert ids(parsed["products.json"]) == {mine["product"]["id"]}
    assert [row["rating"] for row in parsed["reviews.json"]] == [4]
    assert [row["order_id"] for row in parsed["transfers.json"]] == [mine["sold"]["id"]]
    assert [row["order_id"] for row in parsed["refunds.json"]] == [mine["refunded_order"]["id"]]
    assert ids(parsed["streams.json"]) == {mine["stream"]["id"]}
    assert {row["name"] for row in parsed["cloud_files.json"]} == {"mine.wav", "beat.wav"}
    assert all(len(row["versions"]) == 1 for row in parsed["cloud_files.json"])
    [item] = parsed["gear.json"]
    assert item["id"] == mine["item"]["id"]
    assert (len(item["documents"]), len(item["repairs"])) == (1, 1)
    user_ids = {row["user_id"] for row in await client.app[DB].fetch_all("SELECT user_id FROM notifications")}
    assert len(user_ids) == 3  # all have have notifications; only alice's are exported
    alice_notifications = await client.app[DB].fetch_all(
        "SELECT id::text FROM notifications WHERE user_id = %s AND type <> 'export.ready'", (alice["user"]["id"],)
    )
    assert ids(parsed["notifications.json"]) == ids(alice_notifications)

    text = b"".join(files.values()).decode()
    for key in (mine["stream"]["stream_key"], theirs["stream"]["stream_key"]):
        assert key not in text
    for foreign in (
        bob["user"]["email"],
        theirs["order"]["id"],
        theirs["stream"]["id"],
        theirs["item"]["id"],
        theirs["file"]["id"],
        theirs["product"]["id"],
    ):
        assert foreign not in text

    [note] = [n for n in await notifications(client, alice) if n["type"] == "export.ready"]
    assert (note["data"]["export_id"], note["data"]["expires_at"][:19]) == (
        created["export_id"],
        data["expires_at"][:19],
    )
    assert await download(client, note["data"]["download_url"]) == archive_bytes  # the notification's own link


async def test_one_export_in_progress_and_one_a_day(client):
    user = await make_user(client)
    first = (await (await ask(client, user)).json())["data"]
    again = await ask(client, user)
    assert again.status == 202
    assert (await again.json())["data"] == first
    await run_burst_worker(worker_settings(client))

    limited = await ask(client, user)
    assert limited.status == 429
    assert (await limited.json())["code"] == "rate_limited"
    assert 86_000 < int(limited.headers["Retry-After"]) <= 86_400

    await client.app[DB].execute("UPDATE data_exports SET created_at = created_at - interval '1 day'")
    resp = await ask(client, user)
    assert resp.status == 202
    assert (await resp.json())["data"]["export_id"] != first["export_id"]
    listing = await client.get(EXPORTS, headers=user["headers"])
    data = (await listing.json())["data"]
    assert data["total"] == 2
    assert [row["status"] for row in data["exports"]] == ["pending", "ready"]
    assert data["exports"][0]["download_url"] is None
    assert data["exports"][1]["download_url"] is not None


async def test_another_users_export_is_not_found(client):
    owner, other = await make_user(client), await make_user(client)
    export_id = (await (await ask(client, owner)).json())["data"]["export_id"]
    resp = await client.get(f"{EXPORTS}/{export_id}", headers=other["headers"])
    assert resp.status == 404
    assert (await client.get(f"{EXPORTS}/not-a-uuid", headers=other["headers"])).status == 404
    assert (await (await client.get(EXPORTS, headers=other["headers"])).json())["data"] == {"exports": [], "total": 0}


async def test_exports_need_a_token_and_valid_paging_and_refusals_write_nothing(client):
    user = await make_user(client)
    assert (await client.post(EXPORT)).status == 401
    assert (await client.get(EXPORTS)).status == 401
    assert (await client.get(f"{EXPORTS}/{uuid.uuid4()}")).status == 401
    for query in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}):
        resp = await client.get(EXPORTS, params=query, headers=user["headers"])
        assert (resp.status, (await resp.json())["code"]) == (422, "validation_error"), query
    assert await client.app[DB].fetch_val("SELECT count(*) FROM data_exports") == 0


async def test_a_failure_marks_the_export_failed_and_notifies(client):
    user = await make_user(client)
    export_id = (await (await ask(client, user)).json())["data"]["export_id"]
    storage = client.app[STORAGE]

    async def refuse(key, stream, content_type=None):
        raise OSError("disk full")

    settings = worker_settings(client)
    original = type(storage).put
    type(storage).put = refuse  # the worker builds its own storage of the same class
    try:
        await run_burst_worker(settings)
    finally:
        type(storage).put = original

    data = await shown(client, user, export_id)
    assert (data["status"], data["download_url"]) == ("failed", None)
    [note] = [n for n in await notifications(client, user) if n["type"].startswith("export.")]
    assert (note["type"], note["data"]) == ("export.failed", {"export_id": export_id})
    assert (await ask(client, user)).status == 202  # a failed export does not count against the day


async def test_a_second_run_changes_nothing(client):
    user = await make_user(client)
    export_id = (await (await ask(client, user)).json())["data"]["export_id"]
    await run_burst_worker(worker_settings(client))
    before = await shown(client, user, export_id)
    assert await export.build_export(client.app, export_id) == "finished"
    after = await shown(client, user, export_id)
    assert (after["status"], after["finished_at"]) == ("ready", before["finished_at"])
    assert len([n for n in await notifications(client, user) if n["type"] == "export.ready"]) == 1


async def test_the_expiry_cron_deletes_the_archive(client):
    user = await make_user(client)
    export_id = (await (await ask(client, user)).json())["data"]["export_id"]
    await run_burst_worker(worker_settings(client))
    data = await shown(client, user, export_id)
    key = await client.app[DB].fetch_val("SELECT storage_key FROM data_exports WHERE id = %s", (export_id,))
    assert await client.app[STORAGE].exists(key)
    assert await export.delete_expired(client.app) == 0

    await client.app[DB].execute("UPDATE data_exports SET expires_at = now() - interval '1 second'")
    assert (await shown(client, user, export_id))["download_url"] is None
    assert await export.delete_expired(client.app) == 1
    assert not await client.app[STORAGE].exists(key)
    gone = await shown(client, user, export_id)
    assert (gone["status"], gone["download_url"], gone["size_bytes"]) == ("expired", None, None)
    assert (await client.get(URL(data["download_url"]).path_qs)).status == 404


async def test_the_sweep_queues_again_an_export_a_crash_left_open(client):
    user = await make_user(client)
    export_id = (await (await ask(client, user)).json())["data"]["export_id"]
    # A worker crashed mid-build: the export is left running, its job gone from the queue.
    await client.app[DB].execute("UPDATE data_exports SET status = 'running', started_at = now()")
    await client.app[ARQ].flushdb()
    assert await export.requeue_stale(client.app) == 0  # not yet past the job's timeout

    stale = export.STALE_AFTER + timedelta(minutes=1)
    await client.app[DB].execute(
        "UPDATE data_exports SET queued_at = queued_at - %s, started_at = started_at - %s", (stale, stale)
    )
    assert await export.requeue_stale(client.app) == 1
    assert await export.requeue_stale(client.app) == 0  # queued just now
    await run_burst_worker(worker_settings(client))
    data = await shown(client, user, export_id)
    assert data["status"] == "ready"
    assert await client.app[DB].fetch_val("SELECT attempts FROM data_exports") == 1


async def test_an_export_lost_too_often_is_failed(client):
    user = await make_user(client)
    export_id = (await (await ask(client, user)).json())["data"]["export_id"]
    stale = export.STALE_AFTER + timedelta(minutes=1)
    await client.app[DB].execute(
        "UPDATE data_exports SET attempts = %s, queued_at = queued_at - %s", (export.MAX_ATTEMPTS, stale)
    )
    assert await export.requeue_stale(client.app) == 1
    assert (await shown(client, user, export_id))["status"] == "failed"
    assert [n["type"] for n in await notifications(client, user)] == ["export.failed"]
