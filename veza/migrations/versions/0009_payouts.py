"""Payouts: sellers' Connect accounts, the sandbox Connect gateway's books, transfer reversals, refunds.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    -- A seller's account on the Connect gateway (Stripe Express, or the sandbox's).
    CREATE TABLE connect_accounts (
        user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        gateway text NOT NULL,
        account_id text NOT NULL UNIQUE,
        connected boolean NOT NULL DEFAULT false,  -- onboarding done: transfers may be sent
        connected_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );

    -- Reversals are retried like transfers, with counters of their own. A transfer never paid when
    -- its order is refunded is `cancelled` (veza/payments/transfer_queries.py).
    ALTER TABLE seller_transfers
        ADD COLUMN reversal_retry_count integer NOT NULL DEFAULT 0,
        ADD COLUMN gateway_reversal_id text,
        DROP CONSTRAINT seller_transfers_status_check,
        ADD CONSTRAINT seller_transfers_status_check CHECK (status IN (
            'pending', 'completed', 'failed', 'permanently_failed', 'reversal_pending', 'reversed', 'cancelled'
        ));

    CREATE TABLE refunds (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        order_id uuid NOT NULL REFERENCES orders (id),
        requested_by uuid NOT NULL REFERENCES users (id),
        reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
        details text NOT NULL DEFAULT '' CHECK (length(details) <= 2000),
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        currency char(3) NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
        gateway_refund_id text UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        settled_at timestamptz
    );
    -- One refund an order, unless the gateway failed it (the order is `completed` again).
    CREATE UNIQUE INDEX refunds_one_per_order_idx ON refunds (order_id) WHERE status <> 'failed';

    -- The sandbox Connect gateway's own books.
    CREATE TABLE sandbox_connect_accounts (
        id text PRIMARY KEY,
        idempotency_key text NOT NULL UNIQUE,
        email text NOT NULL,
        onboarded boolean NOT NULL DEFAULT false,
        failing_transfers integer NOT NULL DEFAULT 0,  -- tests: the next N transfers to it fail
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE sandbox_transfers (
        id text PRIMARY KEY,
        idempotency_key text NOT NULL UNIQUE,
        destination text NOT NULL REFERENCES sandbox_connect_accounts (id),
        amount bigint NOT NULL CHECK (amount > 0),
        currency char(3) NOT NULL,
        transfer_group text,
        source_transaction text,
        amount_reversed bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE sandbox_transfer_reversals (
        id text PRIMARY KEY,
        idempotency_key text NOT NULL UNIQUE,
        transfer_id text NOT NULL REFERENCES sandbox_transfers (id),
        amount bigint NOT NULL CHECK (amount > 0),
        created_at timestamptz NOT NULL DEFAULT now()
    );
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE sandbox_transfer_reversals, sandbox_transfers, sandbox_connect_accounts, refunds, connect_accounts;
    ALTER TABLE seller_transfers DROP COLUMN reversal_retry_count, DROP COLUMN gateway_reversal_id,
        DROP CONSTRAINT seller_transfers_status_check,
        ADD CONSTRAINT seller_transfers_status_check CHECK (status IN (
            'pending', 'completed', 'failed', 'permanently_failed', 'reversal_pending', 'reversed'
        ));
    """)
