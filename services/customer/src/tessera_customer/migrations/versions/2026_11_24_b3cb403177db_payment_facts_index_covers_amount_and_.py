"""payment_facts index covers amount and currency for the value job

The value job groups the payments by customer through this index; with amount and currency in it
(PostgreSQL's INCLUDE) that is an index-only scan instead of a heap page per payment: 3.4-5.8 s ->
~1.8 s for 3M payments of 1M customers. SQLite has no INCLUDE and keeps the plain index.

Revision ID: b3cb403177db
Revises: 19ad1a21c73d
Create Date: 2026-11-24 02:11:50.829791
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b3cb403177db"
down_revision: str | None = "19ad1a21c73d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_payment_facts_customer_id_received_at"


def _rebuild(include: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(NAME, table_name="payment_facts")
        op.create_index(NAME, "payment_facts", ["customer_id", "received_at"], unique=False, postgresql_include=include)


def upgrade() -> None:
    _rebuild(["amount", "currency"])


def downgrade() -> None:
    _rebuild([])
