"""teams: customers.team_id (territory routing) and the local copy of the gateway's teams

Revision ID: b9e4d2a7c318
Revises: e4a8c1f7b293
Create Date: 2026-12-05 05:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tessera_shared.teams import create_known_teams_table, drop_known_teams_table

revision: str = "b9e4d2a7c318"
down_revision: str | None = "e4a8c1f7b293"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("team_id", sa.Uuid(), nullable=True))
    op.create_index("ix_customers_team_id_id", "customers", ["team_id", "id"], unique=False)
    create_known_teams_table()


def downgrade() -> None:
    drop_known_teams_table()
    op.drop_index("ix_customers_team_id_id", table_name="customers")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_column("team_id")
