"""Sessions: the record of which sessions are revoked, one row each.

A session is what a login starts: its id is the `sid` claim of every access
token issued in it, and its refresh tokens (once called a family) point to it.
Revocation used to live in Redis and on each refresh token; it is now the
session's `revoked_at`, so that a Redis restart forgets nothing (Redis only
caches it).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE sessions (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
    );
    CREATE INDEX sessions_user_live_idx ON sessions (user_id) WHERE revoked_at IS NULL;

    INSERT INTO sessions (id, user_id, created_at, revoked_at)
        SELECT family_id, (array_agg(user_id))[1], min(created_at), max(revoked_at)
        FROM refresh_tokens GROUP BY family_id;

    ALTER TABLE refresh_tokens RENAME COLUMN family_id TO session_id;
    ALTER INDEX refresh_tokens_family_idx RENAME TO refresh_tokens_session_idx;
    ALTER TABLE refresh_tokens
        ADD CONSTRAINT refresh_tokens_session_fk FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE;
    DROP INDEX refresh_tokens_user_idx;
    ALTER TABLE refresh_tokens DROP COLUMN revoked_at;
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE refresh_tokens ADD COLUMN revoked_at timestamptz;
    UPDATE refresh_tokens SET revoked_at = sessions.revoked_at
        FROM sessions WHERE sessions.id = refresh_tokens.session_id;
    CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id) WHERE revoked_at IS NULL;
    ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_session_fk;
    ALTER INDEX refresh_tokens_session_idx RENAME TO refresh_tokens_family_idx;
    ALTER TABLE refresh_tokens RENAME COLUMN session_id TO family_id;
    DROP TABLE sessions;
    """)
