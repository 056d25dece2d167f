"""export jobs: the bulk exports' jobs and files in chunks (tessera_shared.exports)

Revision ID: a4d9c3e8f215
Revises: 7c2e9a41d5b3
Create Date: 2026-12-05 02:40:00.000000
"""

from collections.abc import Sequence

from tessera_shared.exports import migrations

revision: str = "a4d9c3e8f215"
down_revision: str | None = "7c2e9a41d5b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migrations.create_export_tables()


def downgrade() -> None:
    migrations.drop_export_tables()
