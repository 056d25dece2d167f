"""search indexes on customers

Every property POST /v1/customers/search filters or sorts by is served by an index (a sort by
(property, id) is one index range). Kind and creation time had none; the free text's prefixes
(name key, e-mail, phone) and the other properties had theirs already.

Revision ID: 2c7b5e9d1f48
Revises: 5a1c7e93b2d4
Create Date: 2026-12-05 02:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "2c7b5e9d1f48"
down_revision: str | None = "5a1c7e93b2d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_customers_kind_id", "customers", ["kind", "id"], unique=False)
    op.create_index("ix_customers_created_at_id", "customers", ["created_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_customers_created_at_id", table_name="customers")
    op.drop_index("ix_customers_kind_id", table_name="customers")
