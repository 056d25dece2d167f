"""search indexes on deals and leads

Every property POST /v1/{deals,leads}/search filters or sorts by is served by an index (a sort by
(property, id) is one index range), and the free text's prefix by a pattern-ops index
(LIKE 'abc%' whatever the database's collation). SQLite takes plain indexes.

Revision ID: 3b8e1f6a2c97
Revises: a4d9c3e8f215
Create Date: 2026-12-05 02:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3b8e1f6a2c97"
down_revision: str | None = "a4d9c3e8f215"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_deals_amount_id", "deals", ["amount", "id"], unique=False)
    op.create_index("ix_deals_expected_close_date", "deals", ["expected_close_date"], unique=False)
    op.create_index("ix_deals_created_at_id", "deals", ["created_at", "id"], unique=False)
    op.create_index("ix_deals_title", "deals", ["title"], unique=False, postgresql_ops={"title": "varchar_pattern_ops"})
    op.create_index("ix_leads_source_id", "leads", ["source", "id"], unique=False)
    op.create_index("ix_leads_score_id", "leads", ["score", "id"], unique=False)
    op.create_index("ix_leads_created_at_id", "leads", ["created_at", "id"], unique=False)
    op.create_index("ix_leads_email", "leads", ["email"], unique=False)
    op.create_index("ix_leads_name", "leads", ["name"], unique=False, postgresql_ops={"name": "varchar_pattern_ops"})
    op.create_index(
        "ix_leads_company", "leads", ["company"], unique=False, postgresql_ops={"company": "varchar_pattern_ops"}
    )


def downgrade() -> None:
    op.drop_index("ix_leads_company", table_name="leads")
    op.drop_index("ix_leads_name", table_name="leads")
    op.drop_index("ix_leads_email", table_name="leads")
    op.drop_index("ix_leads_created_at_id", table_name="leads")
    op.drop_index("ix_leads_score_id", table_name="leads")
    op.drop_index("ix_leads_source_id", table_name="leads")
    op.drop_index("ix_deals_title", table_name="deals")
    op.drop_index("ix_deals_created_at_id", table_name="deals")
    op.drop_index("ix_deals_expected_close_date", table_name="deals")
    op.drop_index("ix_deals_amount_id", table_name="deals")
