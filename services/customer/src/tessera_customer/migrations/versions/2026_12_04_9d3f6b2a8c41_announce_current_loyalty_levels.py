"""announce current loyalty levels (docs/domain.md §10.5)

Levels reached before loyalty.level_changed existed were never announced, so billing would not
take their discount off invoices from won deals. This data step writes one loyalty.level_changed
per account above the first level into the outbox (the level stored on the account, its discount
from the service's ``loyalty_levels`` setting, at the account's last change), in the migration's
transaction; the relay sends them like any event. An account whose level the setting no longer
names is left out. Nothing to undo on downgrade: an announced fact stays announced.

Revision ID: 9d3f6b2a8c41
Revises: 4c0e5a9d7b13
Create Date: 2026-12-04 21:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tessera_customer.loyalty.rules import level_for
from tessera_customer.settings import CustomerSettings
from tessera_shared.db import UTCDateTime
from tessera_shared.events.contracts import LoyaltyLevelChanged
from tessera_shared.infra_tables import outbox
from tessera_shared.outbox import outbox_row

revision: str = "9d3f6b2a8c41"
down_revision: str | None = "4c0e5a9d7b13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
accounts = sa.table(
    "loyalty_accounts",
    sa.column("customer_id", sa.Uuid()),
    sa.column("earned_total", sa.Integer()),
    sa.column("level", sa.String()),
    sa.column("updated_at", UTCDateTime()),
)


def upgrade() -> None:
    levels = CustomerSettings().loyalty_levels
    first = level_for(0, levels)[0]
    conn = op.get_bind()
    result = conn.execute(
        sa.select(accounts).where(accounts.c.level != first).order_by(accounts.c.updated_at, accounts.c.customer_id)
    )
    while batch := result.mappings().fetchmany(BATCH):
        rows = [
            outbox_row(
                LoyaltyLevelChanged(
                    customer_id=r["customer_id"],
                    from_level=None,
                    to_level=r["level"],
                    discount_percent=levels[r["level"]][1],
                    earned_total=r["earned_total"],
                    changed_at=r["updated_at"],
                ),
                subject=r["customer_id"],
            )
            for r in batch
            if r["level"] in levels
        ]
        if rows:
            conn.execute(sa.insert(outbox), rows)


def downgrade() -> None:
    pass
