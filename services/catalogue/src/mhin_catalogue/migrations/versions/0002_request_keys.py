"""solution-catalogue: round request keys move to the platform's mhin_request_keys"""

from mhin_platform.db.migration_ops import move_into_request_keys, restore_request_keys

revision = "catalogue_0002"
down_revision = "catalogue_0001"
depends_on = "platform_0002"


def upgrade() -> None:
    move_into_request_keys("round_keys", "round_id", scope="prioritisation_rounds")


def downgrade() -> None:
    restore_request_keys("round_keys", "round_id", "prioritisation_rounds",
                         scope="prioritisation_rounds")
