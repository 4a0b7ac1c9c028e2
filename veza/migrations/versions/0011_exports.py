"""Data exports: a user's archive of everything they hold (GDPR), built by a worker, stored under exports/.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE data_exports (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        status text NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'running', 'ready', 'failed', 'expired')),
        storage_key text UNIQUE CHECK (starts_with(storage_key, 'exports/')),
        size_bytes bigint CHECK (size_bytes >= 0),
        error text,
        attempts integer NOT NULL DEFAULT 0,  -- times the sweep queued it again (part of the job's id)
        created_at timestamptz NOT NULL DEFAULT now(),
        queued_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        expires_at timestamptz,
        CHECK (status <> 'ready' OR (storage_key IS NOT NULL AND expires_at IS NOT NULL))
    );
    CREATE INDEX data_exports_user_idx ON data_exports (user_id, created_at DESC, id);
    -- One export in progress per user.
    CREATE UNIQUE INDEX data_exports_one_open_idx ON data_exports (user_id) WHERE status IN ('pending', 'running');
    -- The expiry cron and the sweep walk these.
    CREATE INDEX data_exports_expiry_idx ON data_exports (expires_at) WHERE status = 'ready';
    CREATE INDEX data_exports_open_idx ON data_exports (queued_at) WHERE status IN ('pending', 'running');
    """)


def downgrade() -> None:
    op.execute("DROP TABLE data_exports")
