"""ownership transfers: the bulk ownership transfer's jobs (tessera_shared.ownership)

Revision ID: f5b2d8e64c17
Revises: e3a9c5d71b24
Create Date: 2026-12-05 05:30:00.000000
"""

from collections.abc import Sequence

from tessera_shared.ownership import migrations

revision: str = "f5b2d8e64c17"
down_revision: str | None = "e3a9c5d71b24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migrations.create_ownership_table()


def downgrade() -> None:
    migrations.drop_ownership_table()
