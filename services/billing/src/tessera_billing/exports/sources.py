"""What billing exports in bulk: invoices, to whoever reads the invoice list (which has no owner
rule), amounts with two decimals as the API shows them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

from tessera_billing.api import INVOICE_READERS
from tessera_billing.invoices.models import Invoice
from tessera_billing.invoices.search import SEARCH
from tessera_shared.auth import Principal
from tessera_shared.db import table_of
from tessera_shared.exports.sources import ExportField, ExportSource

INVOICES = table_of(Invoice)
I = INVOICES.c  # noqa: E741 - the table's columns, as the other sources name theirs

INVOICE_FIELDS = [
    ExportField("id", I.id),
    ExportField("number", I.number),
    ExportField("customer_id", I.customer_id),
    ExportField("customer_name", I.customer_name),
    ExportField("deal_id", I.deal_id),
    ExportField("status", I.status),
    ExportField("currency", I.currency),
    ExportField("issue_date", I.issue_date, "time"),
    ExportField("due_date", I.due_date, "time"),
    ExportField("payment_terms_days", I.payment_terms_days, "number"),
    ExportField("subtotal", I.subtotal, "money"),
    ExportField("tax_total", I.tax_total, "money"),
    ExportField("total", I.total, "money"),
    ExportField("amount_paid", I.amount_paid, "money"),
    ExportField("amount_written_off", I.amount_written_off, "money"),
    ExportField("balance_due", I.balance_due, "money"),
    ExportField("overdue_since", I.overdue_since, "time"),
    ExportField("dunning_step", I.dunning_step, "number"),
    ExportField("issued_at", I.issued_at, "time"),
    ExportField("paid_at", I.paid_at, "time"),
    ExportField("voided_at", I.voided_at, "time"),
    ExportField("created_at", I.created_at, "time"),
    ExportField("updated_at", I.updated_at, "time"),
]


def _everyone(_: Principal) -> dict[str, Any]:
    return {}


def _no_scope(_: dict[str, Any]) -> list[ColumnElement[bool]]:
    return []


SOURCES = {
    "invoices": ExportSource(
        resource="invoices",
        table=INVOICES,
        key=I.id,
        fields=INVOICE_FIELDS,
        default_fields=tuple(f.name for f in INVOICE_FIELDS),
        roles=frozenset(INVOICE_READERS),
        scope=_everyone,
        conditions=_no_scope,
        search=SEARCH,
    )
}
