"""Cloud files: files, their versions, share links, and each user's storage use.

Blobs live in storage under ``cloud/<user>/<file>/<version>``. A version row
points at a blob; snapshots and restores point a new version at an existing
blob, so several versions may share one (they share it only within one file).
``cloud_usage.used_bytes`` is the size of the distinct blobs a user's versions
point at; it changes in the same transaction as the rows, so it never drifts.
Uploads in flight hold a reservation that expires, so a crashed upload frees
its share of the quota by itself.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE cloud_files (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
        tags text[] NOT NULL DEFAULT '{}',
        current_version integer NOT NULL CHECK (current_version >= 1),
        size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
        content_type text NOT NULL,
        sha256 bytea NOT NULL CHECK (length(sha256) = 32),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX cloud_files_user_idx ON cloud_files (user_id, updated_at DESC, id);
    CREATE INDEX cloud_files_tags_idx ON cloud_files USING gin (tags);
    CREATE INDEX cloud_files_name_trgm_idx ON cloud_files USING gin (name gin_trgm_ops);

    CREATE TABLE cloud_file_versions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        file_id uuid NOT NULL REFERENCES cloud_files (id) ON DELETE CASCADE,
        version integer NOT NULL CHECK (version >= 1),
        storage_key text NOT NULL,
        size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
        sha256 bytea NOT NULL CHECK (length(sha256) = 32),
        content_type text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (file_id, version)
    );
    CREATE INDEX cloud_file_versions_key_idx ON cloud_file_versions (storage_key);

    -- Only a SHA-256 of each token is kept: a database leak gives no working link.
    CREATE TABLE cloud_shares (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        file_id uuid NOT NULL REFERENCES cloud_files (id) ON DELETE CASCADE,
        token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
        created_by uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        permissions text NOT NULL DEFAULT 'read' CHECK (permissions IN ('read')),
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz,
        download_count bigint NOT NULL DEFAULT 0 CHECK (download_count >= 0),
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX cloud_shares_file_idx ON cloud_shares (file_id, created_at DESC);

    CREATE TABLE cloud_usage (
        user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        used_bytes bigint NOT NULL DEFAULT 0 CHECK (used_bytes >= 0)
    );

    CREATE TABLE cloud_upload_reservations (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        bytes bigint NOT NULL CHECK (bytes >= 0),
        expires_at timestamptz NOT NULL
    );
    CREATE INDEX cloud_upload_reservations_user_idx ON cloud_upload_reservations (user_id);
    """)


def downgrade() -> None:
    op.execute(
        "DROP TABLE cloud_upload_reservations; DROP TABLE cloud_usage; DROP TABLE cloud_shares; "
        "DROP TABLE cloud_file_versions; DROP TABLE cloud_files;"
    )
