"""teams: leads' country, region and team_id, deals' team_id (territory routing), the copy of teams

Revision ID: a6c2f9e4b731
Revises: e41c7b9d2a68
Create Date: 2026-12-05 05:35:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tessera_shared.teams import create_known_teams_table, drop_known_teams_table

revision: str = "a6c2f9e4b731"
down_revision: str | None = "e41c7b9d2a68"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("leads", sa.Column("country", sa.String(length=2), nullable=True))
    op.add_column("leads", sa.Column("region", sa.String(length=100), nullable=True))
    op.add_column("leads", sa.Column("team_id", sa.Uuid(), nullable=True))
    op.create_index("ix_leads_team_id_id", "leads", ["team_id", "id"], unique=False)
    op.add_column("deals", sa.Column("team_id", sa.Uuid(), nullable=True))
    op.create_index("ix_deals_team_id_id", "deals", ["team_id", "id"], unique=False)
    create_known_teams_table()


def downgrade() -> None:
    drop_known_teams_table()
    op.drop_index("ix_deals_team_id_id", table_name="deals")
    with op.batch_alter_table("deals") as batch_op:
        batch_op.drop_column("team_id")
    op.drop_index("ix_leads_team_id_id", table_name="leads")
    with op.batch_alter_table("leads") as batch_op:
        batch_op.drop_column("team_id")
        batch_op.drop_column("region")
        batch_op.drop_column("country")
