"""platform tables: one table of request idempotency keys for every aggregate kind"""

import sqlalchemy as sa
from alembic import op

revision = "platform_0002"
down_revision = "platform_0001"


def upgrade() -> None:
    op.create_table(
        "mhin_request_keys",
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("aggregate_id", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mhin_request_keys")
