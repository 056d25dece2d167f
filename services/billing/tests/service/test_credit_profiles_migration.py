"""Migration c7a1e5f3d920 announces every credit profile (docs/domain.md §10.1): sales has no
default limit of its own, so a profile billing never announced must be announced once, with its
open receivables; on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import orjson
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

import tessera_billing.main as billing_main
from tessera_shared.db import Money, UTCDateTime, create_engine
from tessera_shared.infra_tables import outbox
from tessera_shared.migrations import alembic_config
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of

T0 = datetime(2026, 2, 1, tzinfo=UTC)
profiles = sa.table(
    "credit_profiles",
    sa.column("customer_id", sa.Uuid()),
    sa.column("customer_name", sa.String()),
    sa.column("rating", sa.String()),
    sa.column("credit_limit", Money()),
    sa.column("currency", sa.String()),
    sa.column("payment_terms_days", sa.Integer()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
    sa.column("version", sa.Integer()),
)
invoices = sa.table(
    "invoices",
    sa.column("id", sa.Uuid()),
    sa.column("customer_id", sa.Uuid()),
    sa.column("status", sa.String()),
    sa.column("currency", sa.String()),
    sa.column("issue_date", sa.Date()),
    sa.column("due_date", sa.Date()),
    sa.column("payment_terms_days", sa.Integer()),
    sa.column("subtotal", Money()),
    sa.column("tax_total", Money()),
    sa.column("total", Money()),
    sa.column("amount_paid", Money()),
    sa.column("amount_written_off", Money()),
    sa.column("balance_due", Money()),
    sa.column("dunning_step", sa.Integer()),
    sa.column("created_by", sa.String()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
    sa.column("version", sa.Integer()),
)


def migrate(conn: Connection, revision: str) -> None:
    cfg = alembic_config(migrations_of(billing_main.__file__))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def invoice(customer_id: uuid.UUID, status: str, currency: str, due: str) -> dict[str, object]:
    amount = Decimal(due)
    return {
        "id": uuid.uuid4(),
        "customer_id": customer_id,
        "status": status,
        "currency": currency,
        "issue_date": date(2026, 2, 1),
        "due_date": date(2026, 3, 1),
        "payment_terms_days": 28,
        "subtotal": amount,
        "tax_total": Decimal(0),
        "total": amount,
        "amount_paid": Decimal(0),
        "amount_written_off": Decimal(0),
        "balance_due": amount,
        "dunning_step": 0,
        "created_by": "clerk",
        "created_at": T0,
        "updated_at": T0,
        "version": 1,
    }


@pytest.mark.sqlite
async def test_every_profile_is_announced_with_its_open_receivables(databases: DatabaseFactory, backend: str) -> None:
    quiet, busy = uuid.uuid4(), uuid.uuid4()

    def steps(conn: Connection) -> list[dict[str, object]]:
        migrate(conn, "efa82394efdc")
        common = {"rating": "B", "payment_terms_days": 30, "created_at": T0, "updated_at": T0, "version": 1}
        conn.execute(
            sa.insert(profiles),
            [
                {
                    **common,
                    "customer_id": quiet,
                    "customer_name": "Q",
                    "credit_limit": Decimal(5000),
                    "currency": "EUR",
                },
                {**common, "customer_id": busy, "customer_name": "B", "credit_limit": Decimal(800), "currency": "USD"},
            ],
        )
        conn.execute(
            sa.insert(invoices),
            [
                invoice(busy, "issued", "USD", "100.00"),
                invoice(busy, "overdue", "USD", "50.50"),
                invoice(busy, "partially_paid", "EUR", "20.00"),
                invoice(busy, "draft", "USD", "999.00"),  # not open: not counted
                invoice(busy, "paid", "USD", "0.00"),
            ],
        )
        migrate(conn, "head")
        rows = conn.execute(
            sa.select(outbox.c.key, outbox.c.envelope).where(outbox.c.event_type == "credit.exposure_changed")
        ).all()
        return [{"key": r.key, **orjson.loads(r.envelope)} for r in rows]

    engine = create_engine(await databases.empty(backend))
    try:
        async with engine.begin() as conn:
            announced = await conn.run_sync(steps)
    finally:
        await engine.dispose()
    got = {
        e["key"]: (
            e["data"]["reason"],
            e["data"]["credit_limit"],
            e["data"]["currency"],
            e["data"]["exposure"],
            e["data"]["open_balances"],
        )
        for e in announced
    }
    assert got == {
        str(quiet): ("profile_created", "5000.00", "EUR", "0.00", []),
        str(busy): (
            "profile_created",
            "800.00",
            "USD",
            "150.50",
            [{"currency": "EUR", "amount": "20.00"}, {"currency": "USD", "amount": "150.50"}],
        ),
    }
