"""governance: involvement request keys move to the platform's mhin_request_keys

Revision ID: governance_0002
Revises: governance_0001
Create Date: 2026-12-06
"""

from mhin_platform.db.migration_ops import move_into_request_keys, restore_request_keys

revision = "governance_0002"
down_revision = "governance_0001"
branch_labels = None
depends_on = "platform_0002"


def upgrade() -> None:
    move_into_request_keys("involvement_keys", "activity_id", scope="involvement_activities")


def downgrade() -> None:
    restore_request_keys("involvement_keys", "activity_id", "involvement_activities",
                         scope="involvement_activities")
