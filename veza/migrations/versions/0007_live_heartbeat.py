"""Live streams remember which RTMP session publishes them and when it last reported.

nginx-rtmp's on_update refreshes `heartbeat_at`; a stream whose heartbeat
stopped (nginx died without on_publish_done) is ended by a worker sweep, and a
new publish with the key may take it over. `publish_client` names the nginx
session (address and client id) so that a late callback of an old session
cannot end or refresh the one that took over.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE live_streams ADD COLUMN heartbeat_at timestamptz, ADD COLUMN publish_client text;
    -- Streams live at upgrade time get one timeout's grace to start sending on_update.
    UPDATE live_streams SET heartbeat_at = now() WHERE is_live;
    """)


def downgrade() -> None:
    op.execute("ALTER TABLE live_streams DROP COLUMN heartbeat_at, DROP COLUMN publish_client")
