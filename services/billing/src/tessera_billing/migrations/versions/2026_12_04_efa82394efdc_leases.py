"""leases: the outbox relay's and the scheduled jobs' leadership (tessera_shared.leases)

Revision ID: efa82394efdc
Revises: b41c7d2e9f10
Create Date: 2026-12-04 23:30:00.000000
"""

from collections.abc import Sequence

from tessera_shared import infra_migrations

revision: str = "efa82394efdc"
down_revision: str | None = "b41c7d2e9f10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    infra_migrations.create_v2()


def downgrade() -> None:
    infra_migrations.drop_v2()
