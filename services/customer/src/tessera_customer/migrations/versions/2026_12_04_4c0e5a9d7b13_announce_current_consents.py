"""announce current consents (docs/domain.md §10.4)

Consents recorded before customer.consent_changed existed were never announced, so sales' copy
(campaign members need the channel's consent) would not know them. This data step writes one
customer.consent_changed per current answer into the outbox (at the answer's own time, source and
who), in the migration's transaction; the relay sends them like any event. Nothing to undo on
downgrade: an announced fact stays announced.

Revision ID: 4c0e5a9d7b13
Revises: b3cb403177db
Create Date: 2026-12-04 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tessera_shared.db import UTCDateTime
from tessera_shared.events.contracts import CustomerConsentChanged
from tessera_shared.infra_tables import outbox
from tessera_shared.outbox import outbox_row

revision: str = "4c0e5a9d7b13"
down_revision: str | None = "b3cb403177db"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
consents = sa.table(
    "consents",
    sa.column("customer_id", sa.Uuid()),
    sa.column("purpose", sa.String()),
    sa.column("granted", sa.Boolean()),
    sa.column("source", sa.String()),
    sa.column("recorded_at", UTCDateTime()),
    sa.column("recorded_by", sa.String()),
)


def upgrade() -> None:
    conn = op.get_bind()
    result = conn.execute(
        sa.select(consents).order_by(consents.c.recorded_at, consents.c.customer_id, consents.c.purpose)
    )
    while batch := result.mappings().fetchmany(BATCH):
        conn.execute(
            sa.insert(outbox),
            [
                outbox_row(
                    CustomerConsentChanged(
                        customer_id=r["customer_id"],
                        purpose=r["purpose"],
                        granted=r["granted"],
                        source=r["source"],
                        actor=r["recorded_by"],
                        changed_at=r["recorded_at"],
                    ),
                    subject=r["customer_id"],
                )
                for r in batch
            ],
        )


def downgrade() -> None:
    pass
