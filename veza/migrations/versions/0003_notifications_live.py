"""Notifications, stream keys and live streams.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE notifications (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        type text NOT NULL,
        title text NOT NULL,
        body text NOT NULL DEFAULT '',
        data jsonb NOT NULL DEFAULT '{}',
        read_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC);
    CREATE INDEX notifications_unread_idx ON notifications (user_id) WHERE read_at IS NULL;

    -- One key per streamer: it names whichever of their streams goes live.
    CREATE TABLE stream_keys (
        user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        stream_key text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE live_streams (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        title text NOT NULL,
        description text NOT NULL DEFAULT '',
        category text NOT NULL DEFAULT '',
        tags text[] NOT NULL DEFAULT '{}',
        is_live boolean NOT NULL DEFAULT false,
        started_at timestamptz,
        ended_at timestamptz,
        viewer_count integer NOT NULL DEFAULT 0 CHECK (viewer_count >= 0),
        -- The RTMP name it was published under (the key at the time): the key may change while live.
        publish_name text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX live_streams_user_idx ON live_streams (user_id, created_at DESC);
    CREATE INDEX live_streams_live_idx ON live_streams (started_at DESC) WHERE is_live;
    -- At most one stream of a streamer is live at a time.
    CREATE UNIQUE INDEX live_streams_one_live_idx ON live_streams (user_id) WHERE is_live;
    CREATE UNIQUE INDEX live_streams_publish_name_idx ON live_streams (publish_name) WHERE is_live;
    """)


def downgrade() -> None:
    op.execute("DROP TABLE live_streams; DROP TABLE stream_keys; DROP TABLE notifications;")
