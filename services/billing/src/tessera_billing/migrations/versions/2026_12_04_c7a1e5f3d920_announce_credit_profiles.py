"""announce every credit profile (docs/domain.md §10.1)

Sales has no default credit limit of its own any more: it decides a win on billing's
``credit.exposure_changed`` only, and answers 503 ``credit-position-unknown`` for a customer billing
has announced nothing about. Profiles made from ``customer.created`` before billing announced them
were never announced, so this data step writes one ``credit.exposure_changed`` (reason
``profile_created``) per profile into the outbox: its limit, currency and rating, and its open
receivables (issued, partially paid, overdue) per currency, in the migration's transaction; the
relay sends them like any event, and sales keeps the newest per customer. Nothing to undo on
downgrade: an announced fact stays announced.

Revision ID: c7a1e5f3d920
Revises: efa82394efdc
Create Date: 2026-12-04 23:40:00.000000
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal, cast

import sqlalchemy as sa
from alembic import op

from tessera_billing.invoices.rules import OPEN_STATUSES
from tessera_billing.money import quantize
from tessera_shared.db import Money, utcnow
from tessera_shared.events.contracts import CreditExposureChanged, OpenBalance
from tessera_shared.infra_tables import outbox
from tessera_shared.outbox import outbox_row

revision: str = "c7a1e5f3d920"
down_revision: str | None = "efa82394efdc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
profiles = sa.table(
    "credit_profiles",
    sa.column("customer_id", sa.Uuid()),
    sa.column("rating", sa.String()),
    sa.column("credit_limit", Money()),
    sa.column("currency", sa.String()),
)
invoices = sa.table(
    "invoices",
    sa.column("customer_id", sa.Uuid()),
    sa.column("currency", sa.String()),
    sa.column("balance_due", Money()),
    sa.column("status", sa.String()),
)


def upgrade() -> None:
    conn = op.get_bind()
    # Summed here: Money is text on SQLite.
    balances: dict[object, dict[str, Decimal]] = {}
    open_rows = conn.execute(
        sa.select(invoices.c.customer_id, invoices.c.currency, invoices.c.balance_due).where(
            invoices.c.status.in_([s.value for s in OPEN_STATUSES])
        )
    )
    for customer_id, currency, due in open_rows:
        per = balances.setdefault(customer_id, {})
        per[currency] = per.get(currency, Decimal(0)) + due
    now = utcnow()
    result = conn.execute(sa.select(profiles).order_by(profiles.c.customer_id))
    while batch := result.mappings().fetchmany(BATCH):
        rows = []
        for p in batch:
            open_ = {c: quantize(a, c) for c, a in sorted(balances.get(p["customer_id"], {}).items())}
            rows.append(
                outbox_row(
                    CreditExposureChanged(
                        customer_id=p["customer_id"],
                        credit_limit=quantize(p["credit_limit"], p["currency"]),
                        currency=p["currency"],
                        rating=cast(Literal["A", "B", "C", "D"], p["rating"]),
                        exposure=open_.get(p["currency"], quantize(Decimal(0), p["currency"])),
                        open_balances=[OpenBalance(currency=c, amount=a) for c, a in open_.items() if a != 0],
                        reason="profile_created",
                        changed_at=now,
                    ),
                    subject=p["customer_id"],
                )
            )
        if rows:
            conn.execute(sa.insert(outbox), rows)


def downgrade() -> None:
    pass
