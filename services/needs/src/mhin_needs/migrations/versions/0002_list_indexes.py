"""needs-intake: indexes that serve each list filter in submission order"""

from alembic import op

revision = "needs_0002"
down_revision = "needs_0001"

# ListNeeds filters by one column and pages by (submitted_at, id): with the filter
# column first, a page is an index range scan instead of a sort of every match.
FILTERS = ("arc", "priority_area", "status", "organisation_type")


def upgrade() -> None:
    op.create_index("ix_needs_submitted_page", "needs", ["submitted_at", "id"])
    for column in FILTERS:
        op.create_index(f"ix_needs_{column}_page", "needs", [column, "submitted_at", "id"])


def downgrade() -> None:
    for column in FILTERS:
        op.drop_index(f"ix_needs_{column}_page", "needs")
    op.drop_index("ix_needs_submitted_page", "needs")
