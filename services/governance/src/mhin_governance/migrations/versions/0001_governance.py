"""governance schema: bodies, meetings and their agenda subjects, decisions,
involvement activities and their idempotency keys"""

import sqlalchemy as sa
from alembic import op

from mhin_platform.db.migration_ops import create_document_table

revision = "governance_0001"
down_revision = None
branch_labels = ("governance",)


def upgrade() -> None:
    create_document_table(
        "bodies",
        sa.Column("kind", sa.String(20), nullable=False, index=True),
        id_length=64,
    )
    create_document_table(
        "meetings",
        sa.Column("body_id", sa.String(64), sa.ForeignKey("bodies.id"), nullable=False),
        sa.Column("meeting_date", sa.Date, nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.UniqueConstraint("body_id", "meeting_date", name="uq_meetings_body_day"),
    )
    op.create_table(
        "agenda_subjects",
        sa.Column("item_id", sa.String(36), primary_key=True),
        sa.Column("meeting_id", sa.String(36), sa.ForeignKey("meetings.id"), nullable=False),
        sa.Column("body_id", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(200), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Index("ix_agenda_subjects_subject", "subject_type", "subject_id"),
    )
    create_document_table(
        "decisions",
        sa.Column("body_id", sa.String(64), nullable=False, index=True),
        sa.Column("meeting_id", sa.String(36), sa.ForeignKey("meetings.id"), nullable=False),
        sa.Column("subject_type", sa.String(200), nullable=True),
        sa.Column("subject_id", sa.String(200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("ix_decisions_subject", "subject_type", "subject_id"),
        versioned=False,
    )
    create_document_table(
        "involvement_activities",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("arc", sa.String(40), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("activity_date", sa.Date, nullable=False, index=True),
        sa.Index("ix_involvement_project_date", "project_id", "activity_date"),
        versioned=False,
    )
    op.create_table(
        "involvement_keys",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("activity_id", sa.String(36), sa.ForeignKey("involvement_activities.id"),
                  nullable=False),
    )


def downgrade() -> None:
    for table in ("involvement_keys", "involvement_activities", "decisions", "agenda_subjects",
                  "meetings", "bodies"):
        op.drop_table(table)
