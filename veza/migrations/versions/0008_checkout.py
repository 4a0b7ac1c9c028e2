"""Checkout: orders and their items, payments of the sandbox gateway, webhook events,
licenses, seller transfers, reviews, invoices, and idempotency keys.

Prices are copied into `order_items` when the order is made, so a later price
change never touches a past order. Every state a worker acts on is a row: an
invoice without its `storage_key` is still to render, a sandbox event without
`delivered_at` is still to deliver, a `pending` transfer is still to pay.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE orders (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        buyer_id uuid NOT NULL REFERENCES users (id),
        status text NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'completed', 'failed', 'refund_pending', 'refunded')),
        total_cents bigint NOT NULL CHECK (total_cents > 0),
        currency char(3) NOT NULL,
        payment_method text NOT NULL,
        gateway text NOT NULL,
        payment_id text UNIQUE,  -- the gateway's id, once the payment exists
        client_secret text,
        paid_at timestamptz,
        failed_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX orders_buyer_idx ON orders (buyer_id, created_at DESC, id);

    CREATE TABLE order_items (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        product_id uuid NOT NULL REFERENCES products (id),
        seller_id uuid NOT NULL REFERENCES users (id),
        title text NOT NULL,
        unit_price_cents bigint NOT NULL CHECK (unit_price_cents > 0),
        quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 10),
        currency char(3) NOT NULL,
        UNIQUE (order_id, product_id)
    );
    CREATE INDEX order_items_seller_idx ON order_items (seller_id, order_id);
    CREATE INDEX order_items_product_idx ON order_items (product_id);

    -- Idempotency-Key of writes that move money: the first answer, replayed for 24 h.
    CREATE TABLE idempotency_keys (
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        scope text NOT NULL,  -- the operation, e.g. 'orders.create'
        key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
        request_hash text NOT NULL,
        status_code integer,  -- NULL while the first request is still running
        response jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, scope, key)
    );
    CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

    -- The sandbox gateway's own books: it behaves like Hyperswitch, without the network.
    CREATE TABLE sandbox_payments (
        id text PRIMARY KEY,
        idempotency_key text NOT NULL UNIQUE,
        amount bigint NOT NULL CHECK (amount > 0),
        currency char(3) NOT NULL,
        status text NOT NULL DEFAULT 'requires_payment_method'
            CHECK (status IN ('requires_payment_method', 'processing', 'succeeded', 'failed')),
        client_secret text NOT NULL,
        description text NOT NULL DEFAULT '',
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE sandbox_refunds (
        id text PRIMARY KEY,
        idempotency_key text NOT NULL UNIQUE,
        payment_id text NOT NULL REFERENCES sandbox_payments (id),
        amount bigint NOT NULL CHECK (amount > 0),
        currency char(3) NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
        reason text NOT NULL DEFAULT '',
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    -- Webhooks the sandbox owes the app: delivered by a job, swept while undelivered.
    CREATE TABLE sandbox_events (
        event_id text PRIMARY KEY,
        event_type text NOT NULL,
        body text NOT NULL,  -- the exact JSON that is signed and sent
        attempts integer NOT NULL DEFAULT 0,
        delivered_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX sandbox_events_undelivered_idx ON sandbox_events (created_at) WHERE delivered_at IS NULL;

    -- Every webhook event received, by the sender's id: each is processed once.
    CREATE TABLE webhook_events (
        source text NOT NULL,  -- 'hyperswitch', 'stripe'
        event_id text NOT NULL,
        event_type text NOT NULL,
        payload jsonb NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        processed_at timestamptz,
        outcome text,  -- what processing did (applied, ignored: why)
        PRIMARY KEY (source, event_id)
    );

    CREATE TABLE licenses (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        buyer_id uuid NOT NULL REFERENCES users (id),
        product_id uuid NOT NULL REFERENCES products (id),
        order_id uuid NOT NULL REFERENCES orders (id),
        order_item_id uuid NOT NULL UNIQUE REFERENCES order_items (id),
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
    );
    CREATE INDEX licenses_buyer_idx ON licenses (buyer_id, product_id) WHERE status = 'active';
    CREATE INDEX licenses_product_idx ON licenses (product_id) WHERE status = 'active';

    CREATE TABLE seller_transfers (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        seller_id uuid NOT NULL REFERENCES users (id),
        order_id uuid NOT NULL REFERENCES orders (id),
        amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
        platform_fee_cents bigint NOT NULL CHECK (platform_fee_cents >= 0),
        currency char(3) NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN (
            'pending', 'completed', 'failed', 'permanently_failed', 'reversal_pending', 'reversed'
        )),
        retry_count integer NOT NULL DEFAULT 0,
        next_retry_at timestamptz,
        gateway_transfer_id text,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (order_id, seller_id)
    );
    CREATE INDEX seller_transfers_seller_idx ON seller_transfers (seller_id, created_at DESC, id);
    CREATE INDEX seller_transfers_status_idx ON seller_transfers (status, next_retry_at);

    CREATE TABLE reviews (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        product_id uuid NOT NULL REFERENCES products (id),
        buyer_id uuid NOT NULL REFERENCES users (id),
        order_id uuid NOT NULL REFERENCES orders (id),
        rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
        comment text NOT NULL DEFAULT '' CHECK (length(comment) <= 2000),
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (product_id, buyer_id)
    );
    CREATE INDEX reviews_product_idx ON reviews (product_id, created_at DESC, id);

    -- Invoice numbers run per year without gaps: one is taken in the transaction that
    -- completes the order, so a rollback gives it back. The PDF is rendered later.
    CREATE TABLE invoice_counters (
        year integer PRIMARY KEY,
        last_number integer NOT NULL
    );
    CREATE TABLE invoices (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        order_id uuid NOT NULL UNIQUE REFERENCES orders (id),
        year integer NOT NULL,
        number integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),  -- the invoice's date
        storage_key text,  -- NULL until the PDF is stored
        size_bytes bigint,
        rendered_at timestamptz,
        UNIQUE (year, number)
    );
    CREATE INDEX invoices_unrendered_idx ON invoices (created_at) WHERE storage_key IS NULL;
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE invoices, invoice_counters, reviews, seller_transfers, licenses, webhook_events,
        sandbox_events, sandbox_refunds, sandbox_payments, idempotency_keys, order_items, orders
    """)
