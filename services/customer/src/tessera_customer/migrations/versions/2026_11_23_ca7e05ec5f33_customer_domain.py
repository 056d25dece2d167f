"""customer domain

Revision ID: ca7e05ec5f33
Revises: fb2717a9ac4c
Create Date: 2026-11-23 20:30:07.857886
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import tessera_shared.db

revision: str = "ca7e05ec5f33"
down_revision: str | None = "fb2717a9ac4c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index("ix_access_log_customer_id_at", ["customer_id", "at"], unique=False)

    op.create_table(
        "consent_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_records_customer_id_recorded_at", ["customer_id", "recorded_at"], unique=False
        )

    op.create_table(
        "consents",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "purpose", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consents_purpose_granted_customer_id", ["purpose", "granted", "customer_id"], unique=False
        )

    op.create_table(
        "customer_signals",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column(
            "open_tickets", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "escalated_tickets",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "overdue_invoices",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("sla_breaches", sa.Integer(), nullable=False),
        sa.Column("last_csat", sa.Integer(), nullable=True),
        sa.Column("lost_deals", sa.Integer(), nullable=False),
        sa.Column(
            "lost_reasons", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_signals")),
    )
    op.create_table(
        "loyalty_accounts",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("balance", sa.Integer(), nullable=False),
        sa.Column("earned_total", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_loyalty_accounts_balance_not_negative")),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_loyalty_accounts")),
    )
    op.create_table(
        "loyalty_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("balance_after", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("ref", sa.String(length=100), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_entries")),
        sa.UniqueConstraint("ref", name=op.f("uq_loyalty_entries_ref")),
    )
    with op.batch_alter_table("loyalty_entries", schema=None) as batch_op:
        batch_op.create_index("ix_loyalty_entries_customer_id_id", ["customer_id", "id"], unique=False)

    op.create_table(
        "payment_facts",
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("amount", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payment_facts")),
    )
    with op.batch_alter_table("payment_facts", schema=None) as batch_op:
        batch_op.create_index("ix_payment_facts_customer_id_received_at", ["customer_id", "received_at"], unique=False)

    op.create_table(
        "purchases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("amount", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("occurred_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchases")),
        sa.UniqueConstraint("key", name=op.f("uq_purchases_key")),
    )
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.create_index("ix_purchases_customer_id_occurred_at", ["customer_id", "occurred_at"], unique=False)

    op.create_table(
        "segments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column(
            "filters", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("name", name=op.f("uq_segments_name")),
    )
    op.create_table(
        "status_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=False),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("changed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_changes")),
    )
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.create_index("ix_status_changes_customer_id_changed_at", ["customer_id", "changed_at"], unique=False)

    op.create_table(
        "tier_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("from_tier", sa.String(length=10), nullable=True),
        sa.Column("to_tier", sa.String(length=10), nullable=False),
        sa.Column("changed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_changes")),
    )
    with op.batch_alter_table("tier_changes", schema=None) as batch_op:
        batch_op.create_index("ix_tier_changes_customer_id_changed_at", ["customer_id", "changed_at"], unique=False)

    op.create_table(
        "timeline_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("ref_id", sa.String(length=100), nullable=True),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_entries")),
        sa.UniqueConstraint("event_id", name=op.f("uq_timeline_entries_event_id")),
    )
    with op.batch_alter_table("timeline_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_timeline_entries_customer_id_occurred_at_id", ["customer_id", "occurred_at", "id"], unique=False
        )
        batch_op.create_index("ix_timeline_entries_kind_ref_id", ["kind", "ref_id"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("department", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("buying_role", sa.String(length=20), nullable=True),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_contacts_customer_id_customers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index("ix_contacts_customer_id_id", ["customer_id", "id"], unique=False)

    op.create_table(
        "customer_tags",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_tags_customer_id_customers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("customer_id", "tag", name=op.f("pk_customer_tags")),
    )
    with op.batch_alter_table("customer_tags", schema=None) as batch_op:
        batch_op.create_index("ix_customer_tags_tag_customer_id", ["tag", "customer_id"], unique=False)

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=200), nullable=False, server_default=sa.text("''")))
        batch_op.add_column(sa.Column("external_id", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column(
                "channels",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )
        batch_op.add_column(
            sa.Column(
                "custom_attributes",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )
        batch_op.add_column(sa.Column("relation", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("relationship_type", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("gender", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("age_band", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("occupation", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("education", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("country", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("region", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("city", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("climate_zone", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("lifestyle", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("social_status", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column(
                "preferences",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )
        batch_op.add_column(sa.Column("lifecycle_stage", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("tier", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("purchase_count", sa.Integer(), nullable=False, server_default=sa.text("'0'")))
        batch_op.add_column(sa.Column("first_purchase_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_purchase_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "lifetime_values",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )
        batch_op.add_column(
            sa.Column(
                "monetary",
                tessera_shared.db.Money(precision=20, scale=4),
                nullable=False,
                server_default=sa.text("'0'"),
            )
        )
        batch_op.add_column(sa.Column("rfm_recency", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rfm_frequency", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rfm_monetary", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rfm_segment", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("frequency_class", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("churn_risk", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("value_computed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("owner_active_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("erased_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("merged_into_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_customers_country"), ["country"], unique=False)
        batch_op.create_index("ix_customers_last_purchase_at", ["last_purchase_at"], unique=False)
        batch_op.create_index("ix_customers_monetary_id", ["monetary", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_name_key"), ["name_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_relation"), ["relation"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_rfm_segment"), ["rfm_segment"], unique=False)
        batch_op.create_index("ix_customers_tier_id", ["tier", "id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_customers_external_id"), ["external_id"])

    # Existing customers get their search and dedup key (a close first cut: lower-cased name).
    op.execute("UPDATE customers SET name_key = lower(name)")


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_customers_external_id"), type_="unique")
        batch_op.drop_index("ix_customers_tier_id")
        batch_op.drop_index(batch_op.f("ix_customers_rfm_segment"))
        batch_op.drop_index(batch_op.f("ix_customers_relation"))
        batch_op.drop_index(batch_op.f("ix_customers_name_key"))
        batch_op.drop_index("ix_customers_monetary_id")
        batch_op.drop_index("ix_customers_last_purchase_at")
        batch_op.drop_index(batch_op.f("ix_customers_country"))
        batch_op.drop_column("merged_into_id")
        batch_op.drop_column("erased_at")
        batch_op.drop_column("owner_active_at")
        batch_op.drop_column("value_computed_at")
        batch_op.drop_column("churn_risk")
        batch_op.drop_column("frequency_class")
        batch_op.drop_column("rfm_segment")
        batch_op.drop_column("rfm_monetary")
        batch_op.drop_column("rfm_frequency")
        batch_op.drop_column("rfm_recency")
        batch_op.drop_column("monetary")
        batch_op.drop_column("lifetime_values")
        batch_op.drop_column("last_purchase_at")
        batch_op.drop_column("first_purchase_at")
        batch_op.drop_column("purchase_count")
        batch_op.drop_column("tier")
        batch_op.drop_column("lifecycle_stage")
        batch_op.drop_column("preferences")
        batch_op.drop_column("social_status")
        batch_op.drop_column("lifestyle")
        batch_op.drop_column("climate_zone")
        batch_op.drop_column("city")
        batch_op.drop_column("region")
        batch_op.drop_column("country")
        batch_op.drop_column("education")
        batch_op.drop_column("occupation")
        batch_op.drop_column("age_band")
        batch_op.drop_column("gender")
        batch_op.drop_column("relationship_type")
        batch_op.drop_column("relation")
        batch_op.drop_column("custom_attributes")
        batch_op.drop_column("channels")
        batch_op.drop_column("external_id")
        batch_op.drop_column("name_key")

    with op.batch_alter_table("customer_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_tags_tag_customer_id")

    op.drop_table("customer_tags")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_customer_id_id")

    op.drop_table("contacts")
    with op.batch_alter_table("timeline_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_timeline_entries_kind_ref_id")
        batch_op.drop_index("ix_timeline_entries_customer_id_occurred_at_id")

    op.drop_table("timeline_entries")
    with op.batch_alter_table("tier_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_tier_changes_customer_id_changed_at")

    op.drop_table("tier_changes")
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_status_changes_customer_id_changed_at")

    op.drop_table("status_changes")
    op.drop_table("segments")
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_index("ix_purchases_customer_id_occurred_at")

    op.drop_table("purchases")
    with op.batch_alter_table("payment_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_facts_customer_id_received_at")

    op.drop_table("payment_facts")
    with op.batch_alter_table("loyalty_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_entries_customer_id_id")

    op.drop_table("loyalty_entries")
    op.drop_table("loyalty_accounts")
    op.drop_table("customer_signals")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index("ix_consents_purpose_granted_customer_id")

    op.drop_table("consents")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_records_customer_id_recorded_at")

    op.drop_table("consent_records")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index("ix_access_log_customer_id_at")

    op.drop_table("access_log")
