"""campaign member consent (docs/domain.md §10.4)

Sales keeps each customer's current consent per purpose (customer_consents, from
customer.consent_changed); a campaign's customer member is active or suspended, with the reason
of its last move. Existing customer members start suspended (`no_consent`): nothing is known of
their consent yet; the customer service announces every current answer once (its migration
4c0e5a9d7b13), and a granted one makes the member active again.

Revision ID: 86d66ac15602
Revises: c34c3426e5ad
Create Date: 2026-12-04 20:54:32.971709
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tessera_shared.db

revision: str = "86d66ac15602"
down_revision: str | None = "c34c3426e5ad"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_consents",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("changed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "purpose", name=op.f("pk_customer_consents")),
    )
    with op.batch_alter_table("campaign_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=10), server_default="active", nullable=False))
        batch_op.add_column(sa.Column("status_reason", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("status_changed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_campaign_members_member_type_member_id", ["member_type", "member_id"], unique=False)
    op.execute(
        "UPDATE campaign_members SET status = 'suspended', status_reason = 'no_consent' WHERE member_type = 'customer'"
    )


def downgrade() -> None:
    with op.batch_alter_table("campaign_members", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_members_member_type_member_id")
        batch_op.drop_column("status_changed_at")
        batch_op.drop_column("status_reason")
        batch_op.drop_column("status")

    op.drop_table("customer_consents")
