"""initial schema: copies, rules, inbox, preferences

Revision ID: 89fa5f9bf79f
Revises:
Create Date: 2026-12-04 23:43:05.833786
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import tessera_shared.db
from tessera_notifications.rules.rules import DEFAULT_RULES
from tessera_shared import infra_migrations

revision: str = "89fa5f9bf79f"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    infra_migrations.create_v1()
    infra_migrations.create_v2()
    op.create_table(
        "deal_copies",
        sa.Column("deal_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.String(length=200), nullable=True),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("deal_id", name=op.f("pk_deal_copies")),
    )
    with op.batch_alter_table("deal_copies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deal_copies_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "invoice_copies",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("deal_id", sa.Uuid(), nullable=True),
        sa.Column("number", sa.String(length=50), nullable=True),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_invoice_copies")),
    )
    with op.batch_alter_table("invoice_copies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_copies_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "known_customers",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("tier", sa.String(length=20), server_default="ordinary", nullable=False),
        sa.Column("tier_changed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("merged_into", sa.Uuid(), nullable=True),
        sa.Column("erased_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_known_customers")),
    )
    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_known_customers_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("in_app", sa.Boolean(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("digest", sa.String(length=10), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "event_type", name=op.f("pk_notification_preferences")),
    )
    op.create_table(
        "notification_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column(
            "condition", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "recipients", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "channels", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("shipped", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_rules")),
    )
    with op.batch_alter_table("notification_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_rules_event_type"), ["event_type"], unique=False)

    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.String(length=2000), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("source_event_id", sa.String(length=100), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=True),
        sa.Column("unread", sa.Boolean(), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("user_id", "seq", name=op.f("uq_notifications_user_id_seq")),
        sa.UniqueConstraint("user_id", "source_event_id", name=op.f("uq_notifications_user_id_source_event_id")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_notifications_inbox", ["user_id", "unread", "seq"], unique=False)

    op.create_table(
        "ticket_copies",
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("assignee_id", sa.String(length=200), nullable=True),
        sa.Column("group_name", sa.String(length=100), nullable=True),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_ticket_copies")),
    )
    with op.batch_alter_table("ticket_copies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_copies_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "user_sequences",
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_sequences")),
    )
    # The shipped routing rules (rules.DEFAULT_RULES), so that every replica starts from the same rows.
    rules = sa.table(
        "notification_rules",
        sa.column("id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("event_type", sa.String()),
        sa.column("condition", sa.JSON()),
        sa.column("recipients", sa.JSON()),
        sa.column("channels", sa.JSON()),
        sa.column("enabled", sa.Boolean()),
        sa.column("shipped", sa.Boolean()),
        sa.column("version", sa.Integer()),
        sa.column("created_at", tessera_shared.db.UTCDateTime(timezone=True)),
        sa.column("updated_at", tessera_shared.db.UTCDateTime(timezone=True)),
    )
    shipped_at = datetime(2026, 12, 4, tzinfo=UTC)
    op.bulk_insert(
        rules,
        [
            {**rule, "enabled": True, "shipped": True, "version": 1, "created_at": shipped_at, "updated_at": shipped_at}
            for rule in DEFAULT_RULES
        ],
    )
    # ### end Alembic commands ###


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    infra_migrations.drop_v2()
    infra_migrations.drop_v1()
    op.drop_table("user_sequences")
    with op.batch_alter_table("ticket_copies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_copies_customer_id"))

    op.drop_table("ticket_copies")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_inbox")
        batch_op.drop_index(batch_op.f("ix_notifications_customer_id"))

    op.drop_table("notifications")
    with op.batch_alter_table("notification_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_rules_event_type"))

    op.drop_table("notification_rules")
    op.drop_table("notification_preferences")
    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_known_customers_owner_id"))

    op.drop_table("known_customers")
    with op.batch_alter_table("invoice_copies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_copies_customer_id"))

    op.drop_table("invoice_copies")
    with op.batch_alter_table("deal_copies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deal_copies_customer_id"))

    op.drop_table("deal_copies")
    # ### end Alembic commands ###
