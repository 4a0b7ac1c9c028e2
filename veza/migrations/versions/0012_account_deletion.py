"""Account deletion: a deleted account stays as an anonymous row that the records others still need point at.

`deleted_at` is set when the owner deletes the account: from then on it has no username, email or password
of its own (a placeholder each) and no session. `erased_at` is set once the worker has deleted everything
else the account held. Between the two, a sweep queues the erasure again.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE users
        ADD COLUMN deleted_at timestamptz,
        ADD COLUMN erased_at timestamptz,
        ADD CONSTRAINT users_erased_after_deleted CHECK (erased_at IS NULL OR deleted_at IS NOT NULL);
    CREATE INDEX users_erasing_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL AND erased_at IS NULL;
    -- The erasure walks the user's gear documents, invoices as a buyer and sales as a seller.
    CREATE INDEX gear_documents_owner_idx ON gear_documents (owner_id, id);
    """)


def downgrade() -> None:
    op.execute("""
    DROP INDEX gear_documents_owner_idx, users_erasing_idx;
    ALTER TABLE users DROP CONSTRAINT users_erased_after_deleted, DROP COLUMN erased_at, DROP COLUMN deleted_at;
    """)
