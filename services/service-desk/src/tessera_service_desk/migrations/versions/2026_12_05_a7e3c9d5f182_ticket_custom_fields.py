"""custom fields: the ticket definitions and tickets.custom_fields (tessera_shared.custom_fields)

Revision ID: a7e3c9d5f182
Revises: f5b2d8e64c17
Create Date: 2026-12-05 05:50:00.000000

The per-field indexes are not here: the service builds each when its field is defined.
"""

from collections.abc import Sequence

from tessera_shared.custom_fields import migrations

revision: str = "a7e3c9d5f182"
down_revision: str | None = "f5b2d8e64c17"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migrations.create_definitions_table()
    migrations.add_custom_fields_column("tickets")


def downgrade() -> None:
    migrations.drop_custom_fields_column("tickets")
    migrations.drop_definitions_table()
