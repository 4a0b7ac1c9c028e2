"""Databases of the benchmarks' and the browser tests' own, on the configured PostgreSQL server."""

from __future__ import annotations

import psycopg2
from psycopg2 import sql

from veza.migrate import migrate


def migrated_database(any_url: str, name: str, *, fresh: bool) -> str:
    """The URL of database `name` on the server of `any_url`, migrated: made if missing; with `fresh`,
    dropped and made again first, so that each run starts from the same empty state."""
    server = any_url.rpartition("/")[0]
    admin = psycopg2.connect(f"{server}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        if fresh:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin.close()
    url = f"{server}/{name}"
    migrate(url)
    return url
