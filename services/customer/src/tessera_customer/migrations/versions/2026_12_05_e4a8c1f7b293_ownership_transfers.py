"""ownership transfers: the bulk ownership transfer's jobs (tessera_shared.ownership)

Revision ID: e4a8c1f7b293
Revises: 2c7b5e9d1f48
Create Date: 2026-12-05 05:25:00.000000
"""

from collections.abc import Sequence

from tessera_shared.ownership import migrations

revision: str = "e4a8c1f7b293"
down_revision: str | None = "2c7b5e9d1f48"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migrations.create_ownership_table()


def downgrade() -> None:
    migrations.drop_ownership_table()
