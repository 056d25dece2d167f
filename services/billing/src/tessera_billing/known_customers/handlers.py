"""The local copy of customers (``tessera_shared.known_customers``) and what customer facts do to
billing's records.

customer.created also makes the customer's credit profile; customer.updated renames it (the bill-to
name new invoices print); customer.merged re-points invoices,
payments, ledger entries, write-offs and disputes to the survivor, adds its receivable balances to
the survivor's and folds its credit profile into the survivor's; customer.erased strips personal
data (the name printed on invoices and on the credit profile, invoice notes and line texts, payers'
references, write-off reasons) while amounts
and dates stay for legal retention."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from tessera_billing.credit.handlers import customer_created_handler
from tessera_billing.credit.models import CreditProfile
from tessera_billing.credit.rules import worse_rating
from tessera_billing.credit.service import announce_exposure
from tessera_billing.dunning.models import InvoiceDispute
from tessera_billing.invoices.models import Invoice, InvoiceLine
from tessera_billing.invoices.pending import PendingDealWon
from tessera_billing.known_customers.models import KnownCustomer
from tessera_billing.ledger import receivables
from tessera_billing.ledger.models import LedgerEntry
from tessera_billing.loyalty.models import LoyaltyPayment
from tessera_billing.payments.models import Payment
from tessera_billing.settings import BillingSettings
from tessera_billing.writeoffs.models import WriteOff
from tessera_shared.consumer import Batched
from tessera_shared.db import utcnow
from tessera_shared.events.contracts import CustomerCreated, CustomerErased, CustomerMerged, CustomerUpdated
from tessera_shared.known_customers import ERASED, CreatedWork, KnownCustomers, Repoint, Scrub


async def _rekey_receivables(session: AsyncSession, data: CustomerMerged) -> None:
    await receivables.rekey(session, data.merged_id, data.survivor_id)


async def _fold_credit_profile(session: AsyncSession, data: CustomerMerged) -> None:
    merged = await session.get(CreditProfile, data.merged_id)
    if merged is None:
        return  # nothing left to fold in (also the case on a re-delivery)
    survivor = await session.get(CreditProfile, data.survivor_id)
    if survivor is None:
        # The survivor was never seen by billing: the merged customer's profile becomes its own.
        session.add(
            CreditProfile(
                customer_id=data.survivor_id,
                customer_name=merged.customer_name,
                rating=merged.rating,
                credit_limit=merged.credit_limit,
                currency=merged.currency,
                payment_terms_days=merged.payment_terms_days,
            )
        )
    else:
        # One customer, one risk: keep the survivor's approved limit and terms, and the worse rating.
        survivor.rating = worse_rating(survivor.rating, merged.rating)
        survivor.updated_at = utcnow()
        survivor.version += 1
    await session.delete(merged)


async def _announce_survivor_credit(session: AsyncSession, data: CustomerMerged) -> None:
    """The survivor's limit and receivables after the fold, for sales' win check (§10.1)."""
    await session.flush()
    await announce_exposure(session, data.survivor_id, "customer_merged")


def _lines_of(customer_id: uuid.UUID) -> ColumnElement[bool]:
    invoices = select(col(Invoice.id)).where(col(Invoice.customer_id) == customer_id).scalar_subquery()
    return col(InvoiceLine.invoice_id).in_(invoices)


async def _drop_parked_wins(session: AsyncSession, data: CustomerErased) -> None:
    """Wins parked for a customer billing never knew (§10.2) carry deal titles and lines; the
    customer is gone, so they are never invoiced: they go."""
    await session.execute(delete(PendingDealWon).where(col(PendingDealWon.customer_id) == data.customer_id))


async def _strip_credit_profile_name(session: AsyncSession, data: CustomerErased) -> None:
    profile = await session.get(CreditProfile, data.customer_id)
    if profile is not None and profile.customer_name is not None:
        profile.customer_name = None
        profile.updated_at = utcnow()
        profile.version += 1


KNOWN_CUSTOMERS = KnownCustomers(
    KnownCustomer,
    repoint=[
        Repoint(Invoice),
        Repoint(Payment),
        Repoint(LedgerEntry),
        Repoint(WriteOff),
        Repoint(InvoiceDispute),
        Repoint(LoyaltyPayment),  # points payments follow their invoices (§10.5)
    ],
    scrubs=[
        # Invoices and payments are kept for legal retention; the name printed on them goes.
        Scrub(Invoice, {"customer_name": None}, only=(col(Invoice.customer_name).is_not(None),)),
        # A payer's reference can carry a name or an account; the amounts and dates stay.
        Scrub(Payment, {"reference": None}),
        Scrub(LedgerEntry, {"reference": None}, only=(col(LedgerEntry.payment_id).is_not(None),)),
        # Invoice texts: the note and the line descriptions (copied from deal titles and lines).
        Scrub(Invoice, {"note": None}, only=(col(Invoice.note).is_not(None),)),
        Scrub(InvoiceLine, {"description": ERASED}, rows_of=_lines_of),
        # A write-off's reason and decision note can tell the customer's circumstances.
        Scrub(WriteOff, {"reason": ERASED, "decision_note": None}),
    ],
    on_merged=[_rekey_receivables, _fold_credit_profile, _announce_survivor_credit],
    on_erased=[_strip_credit_profile_name, _drop_parked_wins],
)


def created_handler(settings: BillingSettings, *also: CreatedWork) -> Batched[CustomerCreated]:
    """customer.created: the local copy, then the customers' credit profiles (one run, batched), then
    ``also`` (the customers' parked deal.won facts, invoiced now: docs/domain.md §10.2)."""
    return KNOWN_CUSTOMERS.created(customer_created_handler(settings).apply, *also)


async def _rename_credit_profiles(session: AsyncSession, moved: dict[uuid.UUID, CustomerUpdated]) -> None:
    """The bill-to name of a customer's credit profile follows the copy (only customers whose copy
    took the update: an older version or an erased customer moves nothing)."""
    if not moved:
        return
    profiles = (
        await session.execute(select(CreditProfile).where(col(CreditProfile.customer_id).in_(list(moved))))
    ).scalars()
    now = utcnow()
    for profile in profiles:
        name = moved[profile.customer_id].name
        if profile.customer_name != name:
            profile.customer_name = name
            profile.updated_at = now
            profile.version += 1


# customer.updated: the local copy follows the newest version; so does the bill-to name of the
# credit profile, which new invoices print (issued invoices keep the name they were printed with).
on_customer_updated = KNOWN_CUSTOMERS.updated(_rename_credit_profiles)


# Text columns that hold nothing personal about a customer (codes, states, numbers, staff ids), per
# table; every other text column of billing's tables is scrubbed above or by the hook (a unit test
# holds the lists against the models: a new text column is one or the other).
ERASED_BY_HOOKS: dict[str, frozenset[str]] = {
    "credit_profiles": frozenset({"customer_name"}),
    "pending_deal_wins": frozenset({"data"}),
}
NOT_PERSONAL: dict[str, frozenset[str]] = {
    "credit_profiles": frozenset({"rating", "currency"}),
    "invoices": frozenset({"number", "status", "currency", "created_by"}),
    "invoice_lines": frozenset({"product_code"}),
    "ledger_entries": frozenset({"currency", "kind"}),
    "payments": frozenset({"currency", "method", "recorded_by"}),
    "receivable_balances": frozenset({"currency"}),
    "receivable_totals": frozenset({"currency"}),
    "write_offs": frozenset({"currency", "status", "requested_by", "decided_by"}),
    "known_customers": frozenset({"owner_id", "status", "tier"}),
    "member_levels": frozenset({"level"}),
    "loyalty_payments": frozenset({"currency", "status", "requested_by"}),
}
on_customer_merged = KNOWN_CUSTOMERS.merged
on_customer_erased = KNOWN_CUSTOMERS.erased
