"""needs-intake schema: needs, their source kinds, submission keys"""

import sqlalchemy as sa
from alembic import op

from mhin_platform.db.migration_ops import create_document_table

revision = "needs_0001"
down_revision = None
branch_labels = ("needs",)


def upgrade() -> None:
    create_document_table(
        "needs",
        sa.Column("arc", sa.String(40), nullable=False, index=True),
        sa.Column("priority_area", sa.String(60), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("organisation_type", sa.String(40), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "need_source_kinds",
        sa.Column("need_id", sa.String(36), sa.ForeignKey("needs.id"), primary_key=True),
        sa.Column("kind", sa.String(30), primary_key=True),
    )
    op.create_table(
        "submission_keys",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("need_id", sa.String(36), sa.ForeignKey("needs.id"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("submission_keys")
    op.drop_table("need_source_kinds")
    op.drop_table("needs")
