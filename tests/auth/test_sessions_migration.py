"""Migration 0006 turns refresh-token families into session rows, and back."""

import uuid

import psycopg2
from alembic import command

from veza.migrate import alembic_config, migrate


def run(url, statement, params=()):
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def test_families_become_sessions_and_back(fresh_database_url):
    url = fresh_database_url
    migrate(url, "0005")
    user = run(
        url,
        "INSERT INTO users (username, email, password_hash) VALUES ('old', 'old@example.com', 'x') RETURNING id",
    )[0][0]
    live, ended = str(uuid.uuid4()), str(uuid.uuid4())
    tokens = [(live, None), (live, None), (ended, "2026-01-02T00:00:00Z"), (ended, "2026-01-02T00:00:00Z")]
    for family, revoked_at in tokens:
        run(
            url,
            "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at, revoked_at)"
            " VALUES (%s, %s, %s, now() + interval '1 day', %s)",
            (user, family, uuid.uuid4().bytes * 2, revoked_at),
        )

    migrate(url)
    sessions = dict(run(url, "SELECT id::text, revoked_at IS NOT NULL FROM sessions"))
    assert sessions == {live: False, ended: True}
    assert run(url, "SELECT count(*) FROM refresh_tokens WHERE session_id::text = %s", (ended,)) == [(2,)]

    command.downgrade(alembic_config(url), "0005")
    families = run(url, "SELECT family_id::text, revoked_at IS NOT NULL FROM refresh_tokens ORDER BY 1, 2")
    assert sorted(families) == sorted([(live, False), (live, False), (ended, True), (ended, True)])
    migrate(url)
