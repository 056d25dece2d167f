"""ownership transfers: the bulk ownership transfer's jobs (tessera_shared.ownership)

Revision ID: d2f7a9c41e60
Revises: b7d41c2e9a05
Create Date: 2026-12-05 05:20:00.000000
"""

from collections.abc import Sequence

from tessera_shared.ownership import migrations

revision: str = "d2f7a9c41e60"
down_revision: str | None = "b7d41c2e9a05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migrations.create_ownership_table()


def downgrade() -> None:
    migrations.drop_ownership_table()
