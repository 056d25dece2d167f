"""export jobs: the bulk exports' jobs and files in chunks (tessera_shared.exports)

Revision ID: 5e7f2b0c9a14
Revises: e721c262c167
Create Date: 2026-12-05 02:20:00.000000
"""

from collections.abc import Sequence

from tessera_shared.exports import migrations

revision: str = "5e7f2b0c9a14"
down_revision: str | None = "e721c262c167"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migrations.create_export_tables()


def downgrade() -> None:
    migrations.drop_export_tables()
