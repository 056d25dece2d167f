"""leases: the outbox relay's and the scheduled jobs' leadership (tessera_shared.leases)

Revision ID: c64567a380b0
Revises: 9b3e4f1d2c70
Create Date: 2026-12-04 23:30:00.000000
"""

from collections.abc import Sequence

from tessera_shared import infra_migrations

revision: str = "c64567a380b0"
down_revision: str | None = "9b3e4f1d2c70"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    infra_migrations.create_v2()


def downgrade() -> None:
    infra_migrations.drop_v2()
