"""evaluation schema: measures, observations, and the project-sites and aggregates
read models"""

import sqlalchemy as sa
from alembic import op

from mhin_platform.db.migration_ops import create_document_table

revision = "evaluation_0001"
down_revision = None
branch_labels = ("evaluation",)


def upgrade() -> None:
    create_document_table(
        "measures",
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        id_length=64,
        versioned=False,
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("arc", sa.String(40), nullable=False),
    )
    op.create_table(
        "observations",
        sa.Column("measure_id", sa.String(64), primary_key=True),
        sa.Column("site_id", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("stratum", sa.String(200), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("arc", sa.String(40), nullable=False),
        sa.Column("numerator", sa.Double, nullable=False),
        sa.Column("denominator", sa.Double, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "aggregates",
        sa.Column("measure_id", sa.String(64), primary_key=True),
        sa.Column("level", sa.String(10), primary_key=True),
        sa.Column("unit", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("stratum", sa.String(200), primary_key=True),
        sa.Column("owner_arc", sa.String(40), nullable=True),
        sa.Column("numerator", sa.Double, nullable=False),
        sa.Column("denominator", sa.Double, nullable=False),
        sa.Column("observation_count", sa.Integer, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("aggregates", "observations", "sites", "projects", "measures"):
        op.drop_table(table)
