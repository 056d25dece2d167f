"""webhook endpoints: personal_data (a partner's deliveries carry no personal data)

Revision ID: 3c1e7a9d2b40
Revises: e29525e927bf
Create Date: 2026-12-05 03:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c1e7a9d2b40"
down_revision: str | None = "e29525e927bf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Endpoints registered before: without personal data (who created them is not recorded).
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("personal_data", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("personal_data")
