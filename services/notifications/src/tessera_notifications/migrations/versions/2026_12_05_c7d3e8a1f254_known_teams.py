"""known teams: the local copy of the gateway's teams (tessera_shared.teams)

Revision ID: c7d3e8a1f254
Revises: 3c1e7a9d2b40
Create Date: 2026-12-05 05:40:00.000000
"""

from collections.abc import Sequence

from tessera_shared.teams import create_known_teams_table, drop_known_teams_table

revision: str = "c7d3e8a1f254"
down_revision: str | None = "3c1e7a9d2b40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_known_teams_table()


def downgrade() -> None:
    drop_known_teams_table()
