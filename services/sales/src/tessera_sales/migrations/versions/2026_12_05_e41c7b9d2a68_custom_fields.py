"""custom fields: the deal and lead definitions, and the records' values (tessera_shared.custom_fields)

Revision ID: e41c7b9d2a68
Revises: f8c3e1a7b592
Create Date: 2026-12-05 05:40:00.000000

The per-field indexes are not here: the service builds each when its field is defined.
"""

from collections.abc import Sequence

from tessera_shared.custom_fields import migrations

revision: str = "e41c7b9d2a68"
down_revision: str | None = "f8c3e1a7b592"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migrations.create_definitions_table()
    migrations.add_custom_fields_column("deals")
    migrations.add_custom_fields_column("leads")


def downgrade() -> None:
    migrations.drop_custom_fields_column("leads")
    migrations.drop_custom_fields_column("deals")
    migrations.drop_definitions_table()
