"""search indexes on invoices

Every property POST /v1/invoices/search filters or sorts by is served by an index (a sort by
(property, id) is one index range), and the free text's prefix by a pattern-ops index
(LIKE 'abc%' whatever the database's collation). SQLite takes plain indexes.

Revision ID: 9e4a7c1b3f60
Revises: c7a1e5f3d920
Create Date: 2026-12-05 02:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9e4a7c1b3f60"
down_revision: str | None = "c7a1e5f3d920"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_invoices_issue_date_id", "invoices", ["issue_date", "id"], unique=False)
    op.create_index("ix_invoices_due_date_id", "invoices", ["due_date", "id"], unique=False)
    op.create_index("ix_invoices_total_id", "invoices", ["total", "id"], unique=False)
    op.create_index("ix_invoices_balance_due_id", "invoices", ["balance_due", "id"], unique=False)
    op.create_index(
        "ix_invoices_customer_name",
        "invoices",
        ["customer_name"],
        unique=False,
        postgresql_ops={"customer_name": "varchar_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_invoices_customer_name", table_name="invoices")
    op.drop_index("ix_invoices_balance_due_id", table_name="invoices")
    op.drop_index("ix_invoices_total_id", table_name="invoices")
    op.drop_index("ix_invoices_due_date_id", table_name="invoices")
    op.drop_index("ix_invoices_issue_date_id", table_name="invoices")
