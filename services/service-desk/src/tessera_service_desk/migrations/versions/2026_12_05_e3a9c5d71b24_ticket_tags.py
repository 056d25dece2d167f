"""ticket tags: tickets.tags and ticket_tags (one row per tag, indexed by tag; tessera_shared.tags)

Revision ID: e3a9c5d71b24
Revises: c1e5b7a2d946
Create Date: 2026-12-05 05:20:00.000000
"""

from collections.abc import Sequence

from tessera_shared.tags import add_tags_migration, drop_tags_migration

revision: str = "e3a9c5d71b24"
down_revision: str | None = "c1e5b7a2d946"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_tags_migration("tickets", "ticket_tags", "ticket_id")


def downgrade() -> None:
    drop_tags_migration("tickets", "ticket_tags", "ticket_id")
