"""governance: involvement request keys move to the platform's mhin_request_keys"""

from mhin_platform.db.migration_ops import move_into_request_keys, restore_request_keys

revision = "governance_0002"
down_revision = "governance_0001"
depends_on = "platform_0002"


def upgrade() -> None:
    move_into_request_keys("involvement_keys", "activity_id", scope="involvement_activities")


def downgrade() -> None:
    restore_request_keys("involvement_keys", "activity_id", "involvement_activities",
                         scope="involvement_activities")
