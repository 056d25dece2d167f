"""export jobs: the bulk exports' jobs and files in chunks (tessera_shared.exports)

Revision ID: d8f3a6c1b259
Revises: 9e4a7c1b3f60
Create Date: 2026-12-05 03:10:00.000000
"""

from collections.abc import Sequence

from tessera_shared.exports import migrations

revision: str = "d8f3a6c1b259"
down_revision: str | None = "9e4a7c1b3f60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migrations.create_export_tables()


def downgrade() -> None:
    migrations.drop_export_tables()
