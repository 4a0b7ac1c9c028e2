"""Gear inventory: items with their warranty, documents (blobs under gear/), repairs, and the
warranty notices already sent (one per item and window).

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE gear_items (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        brand text NOT NULL DEFAULT '' CHECK (length(brand) <= 100),
        model text NOT NULL DEFAULT '' CHECK (length(model) <= 100),
        category text NOT NULL DEFAULT 'other' CHECK (length(category) BETWEEN 1 AND 50),
        serial_number text NOT NULL DEFAULT '' CHECK (length(serial_number) <= 100),
        purchase_date date,
        price_cents bigint CHECK (price_cents >= 0),
        currency char(3) NOT NULL DEFAULT 'EUR',
        purchased_from text NOT NULL DEFAULT '' CHECK (length(purchased_from) <= 200),
        notes text NOT NULL DEFAULT '' CHECK (length(notes) <= 5000),
        tags text[] NOT NULL DEFAULT '{}',
        warranty_expires_at date,
        lifetime_warranty boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK (warranty_expires_at IS NULL OR purchase_date IS NULL OR warranty_expires_at >= purchase_date)
    );
    CREATE INDEX gear_items_owner_idx ON gear_items (owner_id, created_at DESC, id);
    -- The daily notifier walks the warranties ending within the next 30 days.
    CREATE INDEX gear_items_warranty_idx ON gear_items (warranty_expires_at) WHERE NOT lifetime_warranty;

    CREATE TABLE gear_documents (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        item_id uuid NOT NULL REFERENCES gear_items (id) ON DELETE CASCADE,
        owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        type text NOT NULL CHECK (type IN ('invoice', 'manual', 'warranty', 'photo', 'receipt', 'other')),
        filename text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
        content_type text NOT NULL,
        size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
        storage_key text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX gear_documents_item_idx ON gear_documents (item_id, created_at DESC, id);

    CREATE TABLE gear_repairs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        item_id uuid NOT NULL REFERENCES gear_items (id) ON DELETE CASCADE,
        repair_date date NOT NULL,
        description text NOT NULL CHECK (length(description) BETWEEN 1 AND 2000),
        cost_cents bigint NOT NULL DEFAULT 0 CHECK (cost_cents >= 0),
        currency char(3) NOT NULL DEFAULT 'EUR',
        provider text NOT NULL DEFAULT '' CHECK (length(provider) <= 200),
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX gear_repairs_item_idx ON gear_repairs (item_id, repair_date DESC, created_at DESC, id);

    -- A warranty notice sent: each (item, window) once, whatever the runs or edits of the date.
    CREATE TABLE gear_warranty_notices (
        item_id uuid NOT NULL REFERENCES gear_items (id) ON DELETE CASCADE,
        window_days integer NOT NULL CHECK (window_days IN (30, 7, 1, 0)),
        expires_at date NOT NULL,  -- the expiry date it was sent about
        notified_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (item_id, window_days)
    );
    """)


def downgrade() -> None:
    op.execute("DROP TABLE gear_warranty_notices, gear_repairs, gear_documents, gear_items")
