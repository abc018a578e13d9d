"""solution-catalogue schema: solutions with their areas and need links, the
catalogue's copy of needs, prioritisation rounds and their keys, default criteria"""

import sqlalchemy as sa
from alembic import op

from mhin_platform.db.migration_ops import create_document_table

revision = "catalogue_0001"
down_revision = None
branch_labels = ("catalogue",)

ACTIVE_ONLY = sa.text("status = 'ACTIVE'")


def upgrade() -> None:
    op.create_table(
        "solutions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name_key", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("readiness", sa.String(30), nullable=False, index=True),
        sa.Column("evidence_level", sa.String(30), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_index("uq_solutions_active_name", "solutions", ["name_key"], unique=True,
                    sqlite_where=ACTIVE_ONLY, postgresql_where=ACTIVE_ONLY)
    op.create_table(
        "solution_areas",
        sa.Column("solution_id", sa.String(36), sa.ForeignKey("solutions.id"), primary_key=True),
        sa.Column("priority_area", sa.String(60), primary_key=True),
    )
    op.create_table(
        "solution_needs",
        sa.Column("solution_id", sa.String(36), sa.ForeignKey("solutions.id"), primary_key=True),
        sa.Column("need_id", sa.String(36), primary_key=True, index=True),
    )
    create_document_table(
        "known_needs",
        sa.Column("priority_area", sa.String(60), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    create_document_table(
        "prioritisation_rounds",
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "round_keys",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("round_id", sa.String(36), sa.ForeignKey("prioritisation_rounds.id"),
                  nullable=False),
    )
    op.create_table(
        "default_criteria",
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("weight", sa.String(20), nullable=False),
    )


def downgrade() -> None:
    for table in ("default_criteria", "round_keys", "prioritisation_rounds", "known_needs",
                  "solution_needs", "solution_areas"):
        op.drop_table(table)
    op.drop_index("uq_solutions_active_name", "solutions")
    op.drop_table("solutions")
