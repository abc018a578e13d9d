"""project-tracking schema: selection calls and their proposals, projects with
their ARCs, status reports, the read model of catalogue solutions"""

import sqlalchemy as sa
from alembic import op

from mhin_platform.db.migration_ops import create_document_table

revision = "projects_0001"
down_revision = None
branch_labels = ("projects",)


def upgrade() -> None:
    create_document_table(
        "selection_calls",
        sa.Column("solution_id", sa.String(64), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False, index=True),
        id_length=64,
    )
    op.create_table(
        "selection_proposals",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("call_id", sa.String(64), sa.ForeignKey("selection_calls.id"), nullable=False),
    )
    create_document_table(
        "projects",
        sa.Column("solution_id", sa.String(64), nullable=False, index=True),
        sa.Column("priority_area", sa.String(60), nullable=False, index=True),
        sa.Column("phase", sa.String(20), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        id_length=64,
    )
    op.create_table(
        "project_arcs",
        sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column("arc", sa.String(40), primary_key=True),
    )
    create_document_table(
        "status_reports",
        sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), nullable=False,
                  index=True),
        sa.Column("arc", sa.String(40), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        id_length=64,
        versioned=False,
    )
    create_document_table(
        "known_solutions",
        sa.Column("retired", sa.Boolean, nullable=False),
        id_length=64,
    )


def downgrade() -> None:
    for table in ("known_solutions", "status_reports", "project_arcs", "projects",
                  "selection_proposals", "selection_calls"):
        op.drop_table(table)
