"""search indexes on tickets

Every property POST /v1/tickets/search filters or sorts by is served by an index (a sort by
(property, id) is one index range), and the free text's prefix by a pattern-ops index
(LIKE 'abc%' whatever the database's collation). SQLite takes plain indexes.

Revision ID: 6d2f0a8c4e51
Revises: b86776618b91
Create Date: 2026-12-05 02:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "6d2f0a8c4e51"
down_revision: str | None = "b86776618b91"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tickets_priority_id", "tickets", ["priority", "id"], unique=False)
    op.create_index("ix_tickets_category_id", "tickets", ["category", "id"], unique=False)
    op.create_index("ix_tickets_group_name_id", "tickets", ["group_name", "id"], unique=False)
    op.create_index("ix_tickets_created_at_id", "tickets", ["created_at", "id"], unique=False)
    op.create_index(
        "ix_tickets_subject", "tickets", ["subject"], unique=False, postgresql_ops={"subject": "varchar_pattern_ops"}
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_subject", table_name="tickets")
    op.drop_index("ix_tickets_created_at_id", table_name="tickets")
    op.drop_index("ix_tickets_group_name_id", table_name="tickets")
    op.drop_index("ix_tickets_category_id", table_name="tickets")
    op.drop_index("ix_tickets_priority_id", table_name="tickets")
