"""sites keep their go-live date (impact estimation needs it), and series waiting
for their impact to be recomputed"""

import sqlalchemy as sa
from alembic import op

revision = "evaluation_0002"
down_revision = "evaluation_0001"


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("go_live", sa.Date, nullable=True))
    op.create_table(
        "impact_pending",
        sa.Column("measure_id", sa.String(64), primary_key=True),
        sa.Column("scope", sa.String(10), primary_key=True),
        sa.Column("unit", sa.String(64), primary_key=True),
        sa.Column("stratum", sa.String(200), primary_key=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("generation", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("impact_pending")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("go_live")
