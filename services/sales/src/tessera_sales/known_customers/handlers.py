"""The local copy of customers, kept from the customer service's facts (``tessera_shared.known_customers``).

A merge moves the merged customer's deals, leads, activities and credit facts to the survivor;
an erasure removes personal data (a lead's contact details, an activity's texts), while business
facts (amounts, stages, dates) stay for the totals."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from tessera_sales.activities.models import Activity
from tessera_sales.credit.models import CollectedPayment, DealCreditCheck, OverdueInvoice
from tessera_sales.custom_fields import erase_personal_values as _erase_custom_fields
from tessera_sales.deals.models import Deal, DealLine, DealStageChange
from tessera_sales.known_customers.models import KnownCustomer
from tessera_sales.leads.models import Lead
from tessera_shared.events.contracts import CustomerErased
from tessera_shared.known_customers import ERASED, KnownCustomers, Repoint, Scrub
from tessera_shared.outbox import forget_sent


def _of_deals(model: type[DealLine] | type[DealStageChange]) -> Callable[[uuid.UUID], ColumnElement[bool]]:
    def rows_of(customer_id: uuid.UUID) -> ColumnElement[bool]:
        deals = select(col(Deal.id)).where(col(Deal.customer_id) == customer_id).scalar_subquery()
        return col(model.deal_id).in_(deals)

    return rows_of


async def _forget_lead_events(session: AsyncSession, data: CustomerErased) -> None:
    """lead.created is keyed by the lead (it had no customer yet): its sent copies go too."""
    leads = (await session.scalars(select(col(Lead.id)).where(col(Lead.customer_id) == data.customer_id))).all()
    await forget_sent(session, [str(lead) for lead in leads])


KNOWN_CUSTOMERS = KnownCustomers(
    KnownCustomer,
    repoint=[
        Repoint(Deal),
        Repoint(Lead),
        Repoint(Activity),
        Repoint(OverdueInvoice),
        Repoint(CollectedPayment),
        Repoint(DealCreditCheck),
    ],
    scrubs=[
        Scrub(
            Lead,
            {
                "name": ERASED,
                "company": None,
                "title": None,
                "email": None,
                "phone": None,
                "score_reasons": [],
                "external_id": None,  # a person's key in the system it came from
                "country": None,  # where the person is (territory routing)
                "region": None,
            },
        ),
        Scrub(Lead, {"disqualified_reason": None}, only=(col(Lead.disqualified_reason).is_not(None),)),
        Scrub(Activity, {"subject": ERASED, "notes": None}),
        # Deals stay for the totals (amount, stage, dates); their texts can name the customer.
        Scrub(Deal, {"title": ERASED, "lost_reason": None}),
        Scrub(DealLine, {"description": ERASED}, rows_of=_of_deals(DealLine)),
        Scrub(DealStageChange, {"reason": None}, rows_of=_of_deals(DealStageChange)),
    ],
    # Personal custom field values of the customer's deals and leads (tessera_sales.custom_fields).
    on_erased=[_forget_lead_events, _erase_custom_fields],
)

# Text columns that hold nothing personal about a customer (codes, states, staff ids, keys), per
# table; every other text column of sales' tables is scrubbed above (a unit test holds the two lists
# against the models: a new text column is one or the other).
NOT_PERSONAL: dict[str, frozenset[str]] = {
    # external_id: the record's key in an integrating system (batch upsert), not the person's.
    "activities": frozenset({"kind", "owner_id", "origin_key", "created_by", "external_id"}),
    "campaigns": frozenset({"name", "channel", "currency", "created_by"}),
    "campaign_costs": frozenset({"description", "currency", "recorded_by"}),
    "campaign_members": frozenset({"member_type", "added_by", "status", "status_reason"}),
    # The consent copy: purpose and source are the proof of an answer (§10.4), kept like consents.
    "customer_consents": frozenset({"purpose", "source"}),
    "collected_payments": frozenset({"currency"}),
    # Billing's credit facts and rate table (§10.1): codes, rates as text, staff ids.
    "credit_lines": frozenset({"currency", "rating", "open_balances"}),
    "exchange_rates": frozenset({"from_currency", "to_currency", "rate"}),
    "deal_credit_checks": frozenset({"currency", "exchange_rate", "override_by"}),
    "deals": frozenset(
        {
            "currency",
            "stage",
            "stage_kind",
            "owner_id",
            "close_month",
            "credit_override_by",
            "created_by",
            "external_id",
        }
    ),
    "deal_lines": frozenset({"product_code"}),
    "deal_stage_changes": frozenset({"from_stage", "to_stage", "changed_by"}),
    "leads": frozenset({"source", "status", "currency", "owner_id"}),
    "overdue_invoices": frozenset({"number", "currency"}),
    "products": frozenset({"code", "name", "currency"}),
    "known_customers": frozenset({"owner_id", "status", "tier"}),
}
# Custom field values: the personal ones are cleared on erasure (_erase_custom_fields), the others
# are business facts kept like the amounts.
for _table in ("deals", "leads"):
    NOT_PERSONAL[_table] = NOT_PERSONAL[_table] | {"custom_fields"}

# Tags are the staff's labels of a deal or lead (tessera_shared.tags), not about the customer: kept.
for _table in ("deals", "leads"):
    NOT_PERSONAL[_table] = NOT_PERSONAL[_table] | {"tags"}
NOT_PERSONAL["deal_tags"] = NOT_PERSONAL["lead_tags"] = frozenset({"tag"})

on_customer_created = KNOWN_CUSTOMERS.created()
on_customer_updated = KNOWN_CUSTOMERS.updated()
on_customer_merged = KNOWN_CUSTOMERS.merged
on_customer_erased = KNOWN_CUSTOMERS.erased
