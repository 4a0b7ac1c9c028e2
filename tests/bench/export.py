"""Data export: the time to build a user's archive, and how much the process's peak RSS grows doing it.

A user with --rows rows across domains (notifications, gear items each with a repair, cloud files each
with a version, live streams), inserted with generate_series; then `build_export` runs in this process
on local storage. Goal: peak RSS growth under 100 MiB, whatever the number of rows.

    .venv/bin/python -m tests.bench.export [--rows 50000]

Needs PostgreSQL and Redis as configured; it makes and migrates a database `<name>_export_bench` of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from tests.bench.report import row
from tests.databases import migrated_database
from veza.keys import DB
from veza.resources import running_resources
from veza.settings import load_settings
from veza.users import export, export_queries

SEED = """
WITH u AS (
    INSERT INTO users (username, email, password_hash) VALUES ('exporter', 'exporter@example.com', 'x') RETURNING id
), n AS (
    INSERT INTO notifications (user_id, type, title, body, data)
    SELECT u.id, 'bench', 'Notification ' || g, repeat('body ', 20), jsonb_build_object('n', g)
    FROM u, generate_series(1, %(notifications)s) g
), s AS (
    INSERT INTO live_streams (user_id, title, description) SELECT u.id, 'Stream ' || g, repeat('about ', 20)
    FROM u, generate_series(1, %(streams)s) g
), f AS (
    INSERT INTO cloud_files (user_id, name, current_version, size_bytes, content_type, sha256)
    SELECT u.id, 'file-' || g || '.wav', 1, 1000, 'audio/wav', sha256(g::text::bytea)
    FROM u, generate_series(1, %(files)s) g RETURNING id
), v AS (
    INSERT INTO cloud_file_versions (file_id, version, storage_key, size_bytes, sha256, content_type)
    SELECT f.id, 1, 'cloud/bench/' || f.id, 1000, sha256(f.id::text::bytea), 'audio/wav' FROM f
), i AS (
    INSERT INTO gear_items (owner_id, name, notes) SELECT u.id, 'Item ' || g, repeat('note ', 20)
    FROM u, generate_series(1, %(items)s) g RETURNING id
)
INSERT INTO gear_repairs (item_id, repair_date, description) SELECT i.id, current_date, 'Repair' FROM i
"""


def own_database() -> str:
    configured = load_settings().database_url
    return migrated_database(configured, configured.rpartition("/")[2] + "_export_bench", fresh=True)


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM starts again from the current RSS


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


async def bench(rows: int) -> None:
    dsn = own_database()
    counts = {"notifications": rows // 2, "streams": rows // 10, "files": rows // 10, "items": rows // 10}
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(database_url=dsn, data_dir=data_dir, db_statement_timeout=60)
        async with running_resources(settings) as app:
            await app[DB].execute(SEED, counts)
            await app[DB].execute("ANALYZE")  # as autovacuum would after such a load
            user_id = await app[DB].fetch_val("SELECT id FROM users")
            export_row = await export_queries.insert(app[DB], user_id)
            reset_peak_rss()
            before = rss_kib("VmRSS")
            started = time.perf_counter()
            assert await export.build_export(app, export_row["id"]) == "ready"
            seconds = time.perf_counter() - started
            growth = (rss_kib("VmHWM") - before) / 1024
            size = await app[DB].fetch_val("SELECT size_bytes FROM data_exports")
    total = counts["notifications"] + counts["streams"] + 2 * counts["files"] + 2 * counts["items"]  # with children
    print(f"rows {total:,}  archive {size / 2**20:.1f} MiB  time {seconds:.1f} s  peak RSS growth {growth:.1f} MiB")
    row(f"data export of {total:,} rows", f"{seconds:.1f} s, peak RSS +{growth:.1f} MiB", "< 100 MiB", growth < 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000, help="rows in all, versions and repairs included")
    asyncio.run(bench(parser.parse_args().rows))


if __name__ == "__main__":
    main()
