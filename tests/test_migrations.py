import subprocess
import sys

import psycopg2
import pytest

from veza.migrate import migrate


def _state(url):
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT version_num FROM alembic_version")
        versions = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT extname FROM pg_extension ORDER BY extname")
        extensions = {row[0] for row in cur.fetchall()}
    conn.close()
    return versions, extensions


@pytest.mark.slow
def test_two_concurrent_runs_do_not_collide(fresh_database_url):
    # Separate processes, as two release phases would be.
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from veza.migrate import migrate; migrate(sys.argv[1])",
                fresh_database_url,
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    versions, extensions = _state(fresh_database_url)
    assert len(versions) == 1
    assert {"citext", "pg_trgm"} <= extensions


def test_migrate_is_idempotent(fresh_database_url):
    migrate(fresh_database_url)
    first = _state(fresh_database_url)
    migrate(fresh_database_url)
    assert _state(fresh_database_url) == first
