"""tickets sla surveys knowledge base

Revision ID: 7ab1500f93ba
Revises: 6ccdd3734e22
Create Date: 2026-11-23 20:27:04.309870
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import tessera_shared.db

# PostgreSQL full-text search: a trigger keeps kb_articles.search_vector (GIN-indexed) current.
# SQLite's FTS5 index is created by the service at start (kb/search.py): alembic would take
# FTS5's shadow tables for foreign tables.
_PG_SEARCH_FUNCTION = """
CREATE FUNCTION kb_articles_search_vector_update() RETURNS trigger AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('english', coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(NEW.body, '')), 'B');
    RETURN NEW;
END
$$ LANGUAGE plpgsql
"""
_PG_SEARCH_TRIGGER = """
CREATE TRIGGER kb_articles_search_vector_trg
BEFORE INSERT OR UPDATE OF title, body ON kb_articles
FOR EACH ROW EXECUTE FUNCTION kb_articles_search_vector_update()
"""

revision: str = "7ab1500f93ba"
down_revision: str | None = "6ccdd3734e22"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("author_id", sa.String(length=200), nullable=False),
        sa.Column("view_count", sa.Integer(), nullable=False),
        sa.Column("helpful_count", sa.Integer(), nullable=False),
        sa.Column("not_helpful_count", sa.Integer(), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("search_vector", postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
    )
    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.create_index("ix_kb_articles_search_vector", ["search_vector"], unique=False, postgresql_using="gin")
        batch_op.create_index("ix_kb_articles_status_id", ["status", "id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_SEARCH_FUNCTION)
        op.execute(_PG_SEARCH_TRIGGER)

    op.create_table(
        "sla_policies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("service_level", sa.String(length=30), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("next_response_minutes", sa.Integer(), nullable=True),
        sa.Column("resolution_minutes", sa.Integer(), nullable=True),
        sa.Column("business_hours", sa.Boolean(), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
        sa.UniqueConstraint(
            "priority", "service_level", "tier", name=op.f("uq_sla_policies_priority_service_level_tier")
        ),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("requested_priority", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("assignee_id", sa.String(length=200), nullable=True),
        sa.Column("group_name", sa.String(length=100), nullable=True),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("service_level", sa.String(length=30), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("next_response_minutes", sa.Integer(), nullable=True),
        sa.Column("resolution_minutes", sa.Integer(), nullable=True),
        sa.Column("business_hours", sa.Boolean(), nullable=False),
        sa.Column("first_response_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("awaiting_reply_since", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("solved_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reopened_count", sa.Integer(), nullable=False),
        sa.Column("public_reply_count", sa.Integer(), nullable=False),
        sa.Column(
            "breached_metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("sla_breached", sa.Boolean(), nullable=False),
        sa.Column("next_sla_due_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_assignee_id_id", ["assignee_id", "id"], unique=False)
        batch_op.create_index("ix_tickets_customer_id_id", ["customer_id", "id"], unique=False)
        batch_op.create_index("ix_tickets_next_sla_due_at", ["next_sla_due_at"], unique=False)
        batch_op.create_index("ix_tickets_status_id", ["status", "id"], unique=False)

    op.create_table(
        "escalation_notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("recipient_group", sa.String(length=100), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_escalation_notifications_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_notifications")),
    )
    with op.batch_alter_table("escalation_notifications", schema=None) as batch_op:
        batch_op.create_index("ix_escalation_notifications_recipient_group_id", ["recipient_group", "id"], unique=False)

    op.create_table(
        "kb_article_tickets",
        sa.Column("article_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("linked_by", sa.String(length=200), nullable=False),
        sa.Column("linked_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["kb_articles.id"], name=op.f("fk_kb_article_tickets_article_id_kb_articles")
        ),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_kb_article_tickets_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("article_id", "ticket_id", name=op.f("pk_kb_article_tickets")),
    )
    with op.batch_alter_table("kb_article_tickets", schema=None) as batch_op:
        batch_op.create_index("ix_kb_article_tickets_ticket_id", ["ticket_id"], unique=False)

    op.create_table(
        "sla_breaches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("due_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("breached_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_sla_breaches_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_breaches")),
        sa.UniqueConstraint("ticket_id", "metric", "due_at", name=op.f("uq_sla_breaches_ticket_id_metric_due_at")),
    )
    with op.batch_alter_table("sla_breaches", schema=None) as batch_op:
        batch_op.create_index("ix_sla_breaches_breached_at", ["breached_at"], unique=False)

    op.create_table(
        "surveys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.String(length=200), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_surveys_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_surveys_ticket_id")),
    )
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.create_index("ix_surveys_answered_at", ["answered_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_surveys_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "ticket_comments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.String(length=200), nullable=False),
        sa.Column("author_kind", sa.String(length=10), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_comments_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_comments")),
    )
    with op.batch_alter_table("ticket_comments", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_comments_ticket_id_id", ["ticket_id", "id"], unique=False)

    op.create_table(
        "ticket_status_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=10), nullable=False),
        sa.Column("to_status", sa.String(length=10), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_status_changes_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_status_changes")),
    )
    with op.batch_alter_table("ticket_status_changes", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_status_changes_ticket_id_at", ["ticket_id", "at"], unique=False)

    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_level", sa.String(length=30), server_default="standard", nullable=False))
        batch_op.add_column(sa.Column("tier_changed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("merged_into", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("erased_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
        batch_op.drop_column("merged_into")
        batch_op.drop_column("tier_changed_at")
        batch_op.drop_column("service_level")

    with op.batch_alter_table("ticket_status_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_status_changes_ticket_id_at")

    op.drop_table("ticket_status_changes")
    with op.batch_alter_table("ticket_comments", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_comments_ticket_id_id")

    op.drop_table("ticket_comments")
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_surveys_customer_id"))
        batch_op.drop_index("ix_surveys_answered_at")

    op.drop_table("surveys")
    with op.batch_alter_table("sla_breaches", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_breaches_breached_at")

    op.drop_table("sla_breaches")
    with op.batch_alter_table("kb_article_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_article_tickets_ticket_id")

    op.drop_table("kb_article_tickets")
    with op.batch_alter_table("escalation_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_escalation_notifications_recipient_group_id")

    op.drop_table("escalation_notifications")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_status_id")
        batch_op.drop_index("ix_tickets_next_sla_due_at")
        batch_op.drop_index("ix_tickets_customer_id_id")
        batch_op.drop_index("ix_tickets_assignee_id_id")

    op.drop_table("tickets")
    op.drop_table("sla_policies")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS kb_articles_search_vector_trg ON kb_articles")
        op.execute("DROP FUNCTION IF EXISTS kb_articles_search_vector_update()")
    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_articles_status_id")
        batch_op.drop_index("ix_kb_articles_search_vector", postgresql_using="gin")

    op.drop_table("kb_articles")
