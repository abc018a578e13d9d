"""needs-intake: request keys move to the platform's mhin_request_keys"""

from mhin_platform.db.migration_ops import move_into_request_keys, restore_request_keys

revision = "needs_0003"
down_revision = "needs_0002"
depends_on = "platform_0002"


def upgrade() -> None:
    move_into_request_keys("submission_keys", "need_id", scope="needs")


def downgrade() -> None:
    restore_request_keys("submission_keys", "need_id", "needs", scope="needs")
