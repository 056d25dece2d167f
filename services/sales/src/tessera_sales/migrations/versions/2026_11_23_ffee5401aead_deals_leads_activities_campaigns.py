"""deals leads activities campaigns

Revision ID: ffee5401aead
Revises: e5b0714f9598
Create Date: 2026-11-23 20:43:02.042611
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import tessera_shared.db

revision: str = "ffee5401aead"
down_revision: str | None = "e5b0714f9598"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("deal_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("remind_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("origin_key", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
        sa.UniqueConstraint("origin_key", name=op.f("uq_activities_origin_key")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index("ix_activities_customer_id_id", ["customer_id", "id"], unique=False)
        batch_op.create_index("ix_activities_deal_id", ["deal_id"], unique=False)
        batch_op.create_index("ix_activities_due_at_completed_at", ["due_at", "completed_at"], unique=False)
        batch_op.create_index("ix_activities_lead_id", ["lead_id"], unique=False)
        batch_op.create_index("ix_activities_owner_id_id", ["owner_id", "id"], unique=False)
        batch_op.create_index("ix_activities_remind_at_open", ["remind_at", "reminded_at"], unique=False)

    op.create_table(
        "campaigns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("budget", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "collected_payments",
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("deal_id", sa.Uuid(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("amount", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("payment_id", "invoice_id", name=op.f("pk_collected_payments")),
    )
    with op.batch_alter_table("collected_payments", schema=None) as batch_op:
        batch_op.create_index("ix_collected_payments_deal_id", ["deal_id"], unique=False)

    op.create_table(
        "deals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("amount", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("probability_overridden", sa.Boolean(), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=True),
        sa.Column("expected_close_date", sa.Date(), nullable=True),
        sa.Column("close_month", sa.String(length=7), nullable=True),
        sa.Column("furthest_rank", sa.Integer(), server_default="0", nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("payment_terms_days", sa.Integer(), nullable=True),
        sa.Column("lost_reason", sa.String(length=500), nullable=True),
        sa.Column("credit_override_by", sa.String(length=200), nullable=True),
        sa.Column("closed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cycle_seconds", sa.BigInteger(), nullable=True),
        sa.Column("large_flagged", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deals")),
    )
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.create_index("ix_deals_campaign_id", ["campaign_id"], unique=False)
        batch_op.create_index("ix_deals_customer_id_id", ["customer_id", "id"], unique=False)
        batch_op.create_index("ix_deals_owner_id_id", ["owner_id", "id"], unique=False)
        batch_op.create_index("ix_deals_stage_close_month", ["stage", "close_month"], unique=False)

    op.create_table(
        "leads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("estimated_value", tessera_shared.db.Money(precision=20, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column(
            "score_reasons", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("engagement_count", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=True),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("deal_id", sa.Uuid(), nullable=True),
        sa.Column("disqualified_reason", sa.String(length=500), nullable=True),
        sa.Column("converted_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index("ix_leads_campaign_id", ["campaign_id"], unique=False)
        batch_op.create_index("ix_leads_customer_id", ["customer_id"], unique=False)
        batch_op.create_index("ix_leads_owner_id_id", ["owner_id", "id"], unique=False)
        batch_op.create_index("ix_leads_status_id", ["status", "id"], unique=False)

    op.create_table(
        "overdue_invoices",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("deal_id", sa.Uuid(), nullable=True),
        sa.Column("number", sa.String(length=50), nullable=False),
        sa.Column("amount_due", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("days_overdue", sa.Integer(), nullable=False),
        sa.Column("since", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_overdue_invoices")),
    )
    with op.batch_alter_table("overdue_invoices", schema=None) as batch_op:
        batch_op.create_index("ix_overdue_invoices_customer_id", ["customer_id"], unique=False)

    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit_price", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("code", name=op.f("uq_products_code")),
    )
    op.create_table(
        "campaign_costs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("amount", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("incurred_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_costs_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_costs")),
    )
    with op.batch_alter_table("campaign_costs", schema=None) as batch_op:
        batch_op.create_index("ix_campaign_costs_campaign_id_id", ["campaign_id", "id"], unique=False)

    op.create_table(
        "campaign_members",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("member_type", sa.String(length=10), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("added_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_members_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "member_type", "member_id", name=op.f("pk_campaign_members")),
    )
    op.create_table(
        "deal_lines",
        sa.Column("deal_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_code", sa.String(length=50), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("unit_price", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("discount_percent", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("tax_rate_percent", tessera_shared.db.Money(precision=20, scale=4), nullable=True),
        sa.Column("line_total", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deals.id"], name=op.f("fk_deal_lines_deal_id_deals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("deal_id", "position", name=op.f("pk_deal_lines")),
    )
    with op.batch_alter_table("deal_lines", schema=None) as batch_op:
        batch_op.create_index("ix_deal_lines_product_code", ["product_code"], unique=False)

    op.create_table(
        "deal_stage_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("deal_id", sa.Uuid(), nullable=False),
        sa.Column("from_stage", sa.String(length=20), nullable=True),
        sa.Column("to_stage", sa.String(length=20), nullable=False),
        sa.Column("to_rank", sa.Integer(), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("entered_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("left_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deals.id"], name=op.f("fk_deal_stage_changes_deal_id_deals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_stage_changes")),
    )
    with op.batch_alter_table("deal_stage_changes", schema=None) as batch_op:
        batch_op.create_index("ix_deal_stage_changes_deal_id_entered_at", ["deal_id", "entered_at"], unique=False)
        batch_op.create_index("ix_deal_stage_changes_stage", ["to_stage"], unique=False)

    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("erased_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.drop_column("version")
        batch_op.drop_column("erased_at")
        batch_op.drop_column("merged_into_id")

    with op.batch_alter_table("deal_stage_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_deal_stage_changes_stage")
        batch_op.drop_index("ix_deal_stage_changes_deal_id_entered_at")

    op.drop_table("deal_stage_changes")
    with op.batch_alter_table("deal_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_deal_lines_product_code")

    op.drop_table("deal_lines")
    op.drop_table("campaign_members")
    with op.batch_alter_table("campaign_costs", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_costs_campaign_id_id")

    op.drop_table("campaign_costs")
    op.drop_table("products")
    with op.batch_alter_table("overdue_invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_overdue_invoices_customer_id")

    op.drop_table("overdue_invoices")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_status_id")
        batch_op.drop_index("ix_leads_owner_id_id")
        batch_op.drop_index("ix_leads_customer_id")
        batch_op.drop_index("ix_leads_campaign_id")

    op.drop_table("leads")
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_stage_close_month")
        batch_op.drop_index("ix_deals_owner_id_id")
        batch_op.drop_index("ix_deals_customer_id_id")
        batch_op.drop_index("ix_deals_campaign_id")

    op.drop_table("deals")
    with op.batch_alter_table("collected_payments", schema=None) as batch_op:
        batch_op.drop_index("ix_collected_payments_deal_id")

    op.drop_table("collected_payments")
    op.drop_table("campaigns")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_remind_at_open")
        batch_op.drop_index("ix_activities_owner_id_id")
        batch_op.drop_index("ix_activities_lead_id")
        batch_op.drop_index("ix_activities_due_at_completed_at")
        batch_op.drop_index("ix_activities_deal_id")
        batch_op.drop_index("ix_activities_customer_id_id")

    op.drop_table("activities")
