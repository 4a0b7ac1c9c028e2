"""Reconciling storage with the database, on local storage and on S3 (moto): orphans go, missing blobs are reported."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import psycopg2
import pytest

from tests.cloud.conftest import s3_changes
from tests.factories import make_user, run_burst_worker, upload_file
from veza.app import create_app
from veza.constants import RECONCILE_STORAGE_JOB, STORAGE_RECONCILIATION_KEY
from veza.jobs import enqueue
from veza.keys import DB, REDIS, STORAGE
from veza.storage import queries
from veza.storage import reconcile as reconcile_module
from veza.storage.reconcile import MASS_DELETE_MIN, reconcile
from workers.settings import WorkerSettings
from workers.storage import RECONCILE_TIMEOUT

DAY = timedelta(days=1)


def later() -> datetime:
    """A `now` by which every blob written so far is past the 24 h grace period."""
    return datetime.now(UTC) + 2 * DAY


@pytest.fixture(params=["local", "s3"])
def backend(request):
    return request.param


@pytest.fixture
def app_settings(settings, tmp_path, backend, request):
    changes = {"data_dir": tmp_path, "storage_backend": "local"}
    if backend == "s3":
        changes |= s3_changes(request.getfixturevalue("moto_endpoint"))
    return settings.model_copy(update=changes)


@pytest.fixture
async def client(aiohttp_client, app_settings):
    return await aiohttp_client(create_app(app_settings))


async def chunks(data: bytes):
    yield data


async def put_orphan(app, prefix: str = "cloud") -> str:
    key = f"{prefix}/{uuid.uuid4()}/{uuid.uuid4()}/{uuid.uuid4()}"
    await app[STORAGE].put(key, chunks(b"left behind"))
    return key


async def stored(app) -> set[str]:
    return {item.key async for item in app[STORAGE].scan("")}


async def blob_of(app, file_id: str) -> dict:
    return await app[DB].fetch_one(
        "SELECT id, storage_key FROM cloud_file_versions WHERE file_id = %s AND version = 1", (file_id,)
    )


def age(app, key: str, days: float) -> None:
    """Make a local blob look `days` old."""
    path = app[STORAGE].path(key)
    when = (datetime.now(UTC) - timedelta(days=days)).timestamp()
    os.utime(path, (when, when))


async def test_an_old_orphan_is_deleted_and_named_blobs_are_kept(client):
    app = client.app
    user = await make_user(client)
    named = await blob_of(app, (await upload_file(client, user))["id"])
    orphan = await put_orphan(app)

    result = await reconcile(app, now=later())

    assert await stored(app) == {named["storage_key"]}
    assert (result.scanned, result.orphans_found, result.orphans_deleted, result.missing) == (2, 1, 1, 0)
    assert orphan not in await stored(app)


async def test_a_blob_shared_by_versions_of_a_file_is_kept(client):
    app = client.app
    user = await make_user(client)
    file = await upload_file(client, user)
    resp = await client.post(f"/api/v1/cloud/files/{file['id']}/versions", headers=user["headers"])
    assert resp.status == 201, await resp.text()
    key = (await blob_of(app, file["id"]))["storage_key"]

    result = await reconcile(app, now=later())

    assert await stored(app) == {key}
    assert (result.orphans_deleted, result.missing) == (0, 0)


async def test_a_young_orphan_is_kept(client):
    app = client.app
    orphan = await put_orphan(app)  # as an upload whose row has not committed yet

    result = await reconcile(app)
    assert await stored(app) == {orphan}
    assert (result.orphans_found, result.orphans_deleted) == (0, 0)

    result = await reconcile(app, now=datetime.now(UTC) + DAY - timedelta(minutes=5))
    assert await stored(app) == {orphan}


async def test_blobs_outside_the_reconciled_prefixes_are_never_touched(client):
    app = client.app
    others = {await put_orphan(app, "scratch2"), await put_orphan(app, "scratch")}
    result = await reconcile(app, now=later())
    assert await stored(app) == others
    assert result.scanned == 0


async def test_a_row_whose_blob_is_missing_is_reported(client, caplog):
    app = client.app
    admin = await make_user(client, role="admin")
    gone = await blob_of(app, (await upload_file(client, admin))["id"])
    kept = await blob_of(app, (await upload_file(client, admin))["id"])
    await app[STORAGE].delete(gone["storage_key"])

    with caplog.at_level(logging.WARNING, logger="veza.storage.reconcile"):
        result = await reconcile(app, now=later())

    entry = {"table": "cloud_file_versions", "id": str(gone["id"]), "storage_key": gone["storage_key"]}
    assert (result.missing, result.missing_rows, result.orphans_deleted) == (1, [entry], 0)
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert gone["storage_key"] in record.getMessage()
    assert record.fields == entry
    assert await stored(app) == {kept["storage_key"]}  # nothing else changed
    assert await app[DB].fetch_val("SELECT count(*) FROM cloud_file_versions") == 2

    resp = await client.get("/api/v1/health/deep", headers=admin["headers"])
    check = (await resp.json())["data"]["checks"]["reconciliation"]
    assert check["status"] == "warning"
    details = check["details"]
    assert (details["missing"], details["missing_rows"], details["orphans_deleted"]) == (1, [entry], 0)
    assert datetime.fromisoformat(details["finished_at"]) > datetime.now(UTC) - timedelta(minutes=1)
    assert details["stale"] is False


async def test_running_twice_changes_nothing_more(client):
    app = client.app
    user = await make_user(client)
    kept = await blob_of(app, (await upload_file(client, user))["id"])
    gone = await blob_of(app, (await upload_file(client, user))["id"])
    await app[STORAGE].delete(gone["storage_key"])
    await put_orphan(app)
    await put_orphan(app)

    first = await reconcile(app, now=later())
    after_first = await stored(app)
    second = await reconcile(app, now=later())

    assert after_first == await stored(app) == {kept["storage_key"]}
    assert (first.orphans_deleted, first.missing) == (2, 1)
    assert (second.orphans_found, second.orphans_deleted, second.missing) == (0, 0, 1)


async def test_many_blobs_and_rows_are_compared_page_by_page(client, monkeypatch):
    app = client.app
    monkeypatch.setattr(reconcile_module, "BATCH", 2)
    app[STORAGE].scan_batch = 3
    user = await make_user(client)
    files = [(await upload_file(client, user))["id"] for _ in range(5)]
    for file_id in files[:2]:  # versions sharing a blob, across page boundaries
        resp = await client.post(f"/api/v1/cloud/files/{file_id}/versions", headers=user["headers"])
        assert resp.status == 201
    blobs = [await blob_of(app, file_id) for file_id in files]
    for gone in blobs[1:3]:
        await app[STORAGE].delete(gone["storage_key"])
    for _ in range(4):
        await put_orphan(app)

    result = await reconcile(app, now=later())

    kept = {blob["storage_key"] for blob in blobs[:1] + blobs[3:]}
    assert await stored(app) == kept
    assert (result.scanned, result.orphans_found, result.orphans_deleted) == (7, 4, 4)
    assert result.missing == 3  # file 2's two versions and file 3's one
    assert {row["storage_key"] for row in result.missing_rows} == {blob["storage_key"] for blob in blobs[1:3]}


async def test_a_run_waits_for_no_one_while_another_runs(client, database_url):
    app = client.app
    orphan = await put_orphan(app)
    other = psycopg2.connect(database_url)
    try:
        with other.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (queries.RECONCILE_LOCK,))
        result = await reconcile(app, now=later())
    finally:
        other.close()
    assert result.skipped
    assert await stored(app) == {orphan}
    assert await app[REDIS].get(STORAGE_RECONCILIATION_KEY) is None

    assert (await reconcile(app, now=later())).orphans_deleted == 1  # the lock went with its session


async def test_concurrent_runs_delete_each_orphan_once(client):
    app = client.app
    for _ in range(3):
        await put_orphan(app)
    results = await asyncio.gather(*(reconcile(app, now=later()) for _ in range(3)))
    assert sum(result.orphans_deleted for result in results) == 3
    assert sum(result.delete_failures for result in results) == 0
    assert await stored(app) == set()


@pytest.mark.parametrize("backend", ["local"])
async def test_the_age_of_a_blob_is_its_storage_time(client):
    app = client.app
    old, young = await put_orphan(app), await put_orphan(app)
    age(app, old, days=1.1)
    age(app, young, days=0.9)

    result = await reconcile(app)

    assert await stored(app) == {young}
    assert result.orphans_deleted == 1


@pytest.mark.parametrize("backend", ["local"])
async def test_a_storage_that_looks_mostly_orphaned_is_left_alone_unless_forced(client):
    app = client.app
    user = await make_user(client)
    named = await blob_of(app, (await upload_file(client, user))["id"])
    orphans = {await put_orphan(app) for _ in range(MASS_DELETE_MIN)}

    result = await reconcile(app, now=later())
    assert (result.orphans_found, result.orphans_deleted) == (MASS_DELETE_MIN, 0)
    assert "Nothing was deleted" in result.refused
    assert await stored(app) == orphans | {named["storage_key"]}
    resp = await client.get("/api/v1/health/deep", headers=(await make_user(client, role="admin"))["headers"])
    assert (await resp.json())["data"]["checks"]["reconciliation"]["status"] == "warning"

    result = await reconcile(app, now=later(), force=True)
    assert (result.orphans_deleted, result.refused) == (MASS_DELETE_MIN, None)
    assert await stored(app) == {named["storage_key"]}


@pytest.mark.parametrize("backend", ["local"])
async def test_a_dry_run_deletes_and_records_nothing(client):
    app = client.app
    orphan = await put_orphan(app)
    result = await reconcile(app, now=later(), dry_run=True)
    assert (result.orphans_found, result.orphans_deleted) == (1, 0)
    assert await stored(app) == {orphan}
    assert await app[REDIS].get(STORAGE_RECONCILIATION_KEY) is None


async def test_every_column_that_names_a_blob_is_reconciled(client):
    columns = await client.app[DB].fetch_all(
        """
        SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = 'public' AND column_name LIKE '%%storage_key'
        """
    )
    listed = {column for columns in queries.BLOB_COLUMNS.values() for column in columns}
    assert {(row["table_name"], row["column_name"]) for row in columns} == listed


@pytest.mark.parametrize("backend", ["local"])
async def test_deep_health_before_any_run_and_once_runs_stopped(client):
    app = client.app
    headers = (await make_user(client, role="admin"))["headers"]
    resp = await client.get("/api/v1/health/deep", headers=headers)
    assert (await resp.json())["data"]["checks"]["reconciliation"] == {"status": "ok", "details": {"last_run": None}}

    await reconcile(app)
    resp = await client.get("/api/v1/health/deep", headers=headers)
    check = (await resp.json())["data"]["checks"]["reconciliation"]
    assert (check["status"], check["details"]["stale"], check["details"]["scanned"]) == ("ok", False, 0)

    summary = orjson.loads(await app[REDIS].get(STORAGE_RECONCILIATION_KEY))
    summary["finished_at"] = (datetime.now(UTC) - 3 * DAY).isoformat()
    await app[REDIS].set(STORAGE_RECONCILIATION_KEY, orjson.dumps(summary))
    resp = await client.get("/api/v1/health/deep", headers=headers)
    check = (await resp.json())["data"]["checks"]["reconciliation"]
    assert (check["status"], check["details"]["stale"]) == ("warning", True)


def test_the_worker_runs_it_daily_once_with_its_own_timeout():
    [job] = [job for job in WorkerSettings.cron_jobs if job.name == RECONCILE_STORAGE_JOB]
    assert (job.unique, job.timeout_s, job.hour, job.minute) == (True, RECONCILE_TIMEOUT, {3}, {41})


@pytest.mark.parametrize("backend", ["local"])
async def test_the_worker_job_reconciles(client, app_settings):
    app = client.app
    orphan = await put_orphan(app)
    age(app, orphan, days=2)
    await enqueue(app, RECONCILE_STORAGE_JOB)

    worker = await run_burst_worker(app_settings)

    assert worker.jobs_failed == 0
    assert await stored(app) == set()
    summary = orjson.loads(await app[REDIS].get(STORAGE_RECONCILIATION_KEY))
    assert summary["orphans_deleted"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["local"])
async def test_the_command_runs_it_by_hand(client, app_settings):
    app = client.app
    orphan = await put_orphan(app)
    age(app, orphan, days=2)
    env = {
        **os.environ,
        "DATABASE_URL": app_settings.database_url,
        "DATA_DIR": str(app_settings.data_dir),
        "SIGNING_SECRET": app_settings.signing_secret,
    }
    command = [sys.executable, "-m", "veza", "reconcile-storage"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=60)

    dry = await asyncio.to_thread(run, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert orjson.loads(dry.stdout.splitlines()[-1])["orphans_found"] == 1
    assert await stored(app) == {orphan}

    real = await asyncio.to_thread(run)
    assert real.returncode == 0, real.stderr
    assert orjson.loads(real.stdout.splitlines()[-1])["orphans_deleted"] == 1
    assert await stored(app) == set()
