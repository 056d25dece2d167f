"""invoices payments ledger disputes write-offs

Revision ID: 403b33d11f22
Revises: 8543dc9801fa
Create Date: 2026-11-23 20:25:21.131345
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # noqa: F401 - used by rendered JSONB columns

import tessera_shared.db

revision: str = "403b33d11f22"
down_revision: str | None = "8543dc9801fa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invoice_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_invoice_counters")),
    )
    op.create_table(
        "invoice_disputes",
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("opened_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_invoice_disputes")),
    )
    with op.batch_alter_table("invoice_disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_disputes_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_invoice_disputes_invoice_id_closed_at", ["invoice_id", "closed_at"], unique=False)

    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=True),
        sa.Column("deal_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column("subtotal", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("tax_total", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("total", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("amount_paid", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("amount_written_off", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("balance_due", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("overdue_since", sa.Date(), nullable=True),
        sa.Column("dunning_step", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("issued_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paid_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("voided_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("deal_id", name=op.f("uq_invoices_deal_id")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index("ix_invoices_customer_id_id", ["customer_id", "id"], unique=False)
        batch_op.create_index("ix_invoices_status_due_date", ["status", "due_date"], unique=False)
        batch_op.create_index("ix_invoices_status_id", ["status", "id"], unique=False)

    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_entries_customer_id_entry_date", ["customer_id", "entry_date"], unique=False)
        batch_op.create_index("ix_ledger_entries_entry_date", ["entry_date"], unique=False)
        batch_op.create_index("ix_ledger_entries_invoice_id", ["invoice_id"], unique=False)

    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("amount", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("unallocated", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_customer_id_currency", ["customer_id", "currency"], unique=False)
        batch_op.create_index("ix_payments_customer_id_id", ["customer_id", "id"], unique=False)

    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_code", sa.String(length=100), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("unit_price", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("discount_percent", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("tax_rate_percent", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("net_amount", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("tax_amount", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("total", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_lines_invoice_id_invoices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.create_index("ix_invoice_lines_invoice_id_position", ["invoice_id", "position"], unique=True)

    op.create_table(
        "payment_allocations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("amount", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payment_allocations_invoice_id_invoices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_allocations_payment_id_payments"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_allocations")),
    )
    with op.batch_alter_table("payment_allocations", schema=None) as batch_op:
        batch_op.create_index("ix_payment_allocations_invoice_id", ["invoice_id"], unique=False)
        batch_op.create_index("ix_payment_allocations_payment_id", ["payment_id"], unique=False)

    op.create_table(
        "write_offs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("amount", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decision_note", sa.String(length=1000), nullable=True),
        sa.Column("requested_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_write_offs_invoice_id_invoices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_write_offs")),
    )
    with op.batch_alter_table("write_offs", schema=None) as batch_op:
        batch_op.create_index("ix_write_offs_invoice_id", ["invoice_id"], unique=False)
        batch_op.create_index("ix_write_offs_status_id", ["status", "id"], unique=False)

    with op.batch_alter_table("credit_profiles", schema=None) as batch_op:
        batch_op.alter_column("customer_name", existing_type=sa.VARCHAR(length=200), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("credit_profiles", schema=None) as batch_op:
        batch_op.alter_column("customer_name", existing_type=sa.VARCHAR(length=200), nullable=False)

    with op.batch_alter_table("write_offs", schema=None) as batch_op:
        batch_op.drop_index("ix_write_offs_status_id")
        batch_op.drop_index("ix_write_offs_invoice_id")

    op.drop_table("write_offs")
    with op.batch_alter_table("payment_allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_allocations_payment_id")
        batch_op.drop_index("ix_payment_allocations_invoice_id")

    op.drop_table("payment_allocations")
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_lines_invoice_id_position")

    op.drop_table("invoice_lines")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_customer_id_id")
        batch_op.drop_index("ix_payments_customer_id_currency")

    op.drop_table("payments")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_entries_invoice_id")
        batch_op.drop_index("ix_ledger_entries_entry_date")
        batch_op.drop_index("ix_ledger_entries_customer_id_entry_date")

    op.drop_table("ledger_entries")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_status_id")
        batch_op.drop_index("ix_invoices_status_due_date")
        batch_op.drop_index("ix_invoices_customer_id_id")

    op.drop_table("invoices")
    with op.batch_alter_table("invoice_disputes", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_disputes_invoice_id_closed_at")
        batch_op.drop_index(batch_op.f("ix_invoice_disputes_customer_id"))

    op.drop_table("invoice_disputes")
    op.drop_table("invoice_counters")
