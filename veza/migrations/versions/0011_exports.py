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

    -- The export walks each table's rows of one user in id order, a page at a time: without an index on
    -- (user, id) every page would read all of the user's rows again (tests/bench/export.py).
    CREATE INDEX notifications_user_id_idx ON notifications (user_id, id);
    CREATE INDEX live_streams_user_id_idx ON live_streams (user_id, id);
    CREATE INDEX cloud_files_user_id_idx ON cloud_files (user_id, id);
    CREATE INDEX products_seller_id_idx ON products (seller_id, id);
    CREATE INDEX orders_buyer_id_idx ON orders (buyer_id, id);
    CREATE INDEX licenses_buyer_id_idx ON licenses (buyer_id, id);
    CREATE INDEX reviews_buyer_id_idx ON reviews (buyer_id, id);
    CREATE INDEX refunds_requested_by_id_idx ON refunds (requested_by, id);
    CREATE INDEX seller_transfers_seller_id_idx ON seller_transfers (seller_id, id);
    CREATE INDEX gear_items_owner_id_idx ON gear_items (owner_id, id);
    """)


def downgrade() -> None:
    op.execute("""
    DROP INDEX notifications_user_id_idx, live_streams_user_id_idx, cloud_files_user_id_idx, products_seller_id_idx,
        orders_buyer_id_idx, licenses_buyer_id_idx, reviews_buyer_id_idx, refunds_requested_by_id_idx,
        seller_transfers_seller_id_idx, gear_items_owner_id_idx;
    DROP TABLE data_exports
    """)
