"""export jobs: the bulk exports' jobs and files in chunks (tessera_shared.exports)

Revision ID: c1e5b7a2d946
Revises: 6d2f0a8c4e51
Create Date: 2026-12-05 03:05:00.000000
"""

from collections.abc import Sequence

from tessera_shared.exports import migrations

revision: str = "c1e5b7a2d946"
down_revision: str | None = "6d2f0a8c4e51"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migrations.create_export_tables()


def downgrade() -> None:
    migrations.drop_export_tables()
