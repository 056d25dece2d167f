"""deal and lead tags: deals.tags, leads.tags and deal_tags, lead_tags (one row per tag, indexed by tag; tessera_shared.tags)

Revision ID: f8c3e1a7b592
Revises: d2f7a9c41e60
Create Date: 2026-12-05 05:40:00.000000
"""

from collections.abc import Sequence

from tessera_shared.tags import add_tags_migration, drop_tags_migration

revision: str = "f8c3e1a7b592"
down_revision: str | None = "d2f7a9c41e60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_tags_migration("deals", "deal_tags", "deal_id")
    add_tags_migration("leads", "lead_tags", "lead_id")


def downgrade() -> None:
    drop_tags_migration("leads", "lead_tags", "lead_id")
    drop_tags_migration("deals", "deal_tags", "deal_id")
