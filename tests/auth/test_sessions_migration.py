"""Migration 0006 turns refresh-token families into session rows, and back."""

import uuid

import psycopg2
import pytest
from alembic import command
from psycopg2 import sql

from veza.migrate import alembic_config, migrate


@pytest.fixture
def database(database_url):
    base, _, name = database_url.rpartition("/")
    scratch = f"{name}_sessions_migration"
    admin = psycopg2.connect(f"{base}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    yield f"{base}/{scratch}"
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
    admin.close()


def run(url, statement, params=()):
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def test_families_become_sessions_and_back(database):
    migrate(database, "0005")
    user = run(
        database,
        "INSERT INTO users (username, email, password_hash) VALUES ('old', 'old@example.com', 'x') RETURNING id",
    )[0][0]
    live, ended = str(uuid.uuid4()), str(uuid.uuid4())
    tokens = [(live, None), (live, None), (ended, "2026-01-02T00:00:00Z"), (ended, "2026-01-02T00:00:00Z")]
    for family, revoked_at in tokens:
        run(
            database,
            "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at, revoked_at)"
            " VALUES (%s, %s, %s, now() + interval '1 day', %s)",
            (user, family, uuid.uuid4().bytes * 2, revoked_at),
        )

    migrate(database)
    sessions = dict(run(database, "SELECT id::text, revoked_at IS NOT NULL FROM sessions"))
    assert sessions == {live: False, ended: True}
    assert run(database, "SELECT count(*) FROM refresh_tokens WHERE session_id::text = %s", (ended,)) == [(2,)]

    command.downgrade(alembic_config(database), "0005")
    families = run(database, "SELECT family_id::text, revoked_at IS NOT NULL FROM refresh_tokens ORDER BY 1, 2")
    assert sorted(families) == sorted([(live, False), (live, False), (ended, True), (ended, True)])
    migrate(database)
