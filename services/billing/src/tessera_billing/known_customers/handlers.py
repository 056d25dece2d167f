"""The local copy of customers (``tessera_shared.known_customers``) and what customer facts do to
billing's records.

customer.created also makes the customer's credit profile; customer.merged re-points invoices,
payments, ledger entries, write-offs and disputes to the survivor, adds its receivable balances to
the survivor's and folds its credit profile into the survivor's; customer.erased strips personal
data (the name printed on invoices and on the credit profile, payers' references) while amounts
and dates stay for legal retention."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_billing.credit.handlers import customer_created_handler
from tessera_billing.credit.models import CreditProfile
from tessera_billing.credit.rules import worse_rating
from tessera_billing.dunning.models import InvoiceDispute
from tessera_billing.invoices.models import Invoice
from tessera_billing.known_customers.models import KnownCustomer
from tessera_billing.ledger import receivables
from tessera_billing.ledger.models import LedgerEntry
from tessera_billing.payments.models import Payment
from tessera_billing.settings import BillingSettings
from tessera_billing.writeoffs.models import WriteOff
from tessera_shared.consumer import Batched
from tessera_shared.db import utcnow
from tessera_shared.events.contracts import CustomerCreated, CustomerErased, CustomerMerged
from tessera_shared.known_customers import KnownCustomers, Repoint, Scrub


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


async def _strip_credit_profile_name(session: AsyncSession, data: CustomerErased) -> None:
    profile = await session.get(CreditProfile, data.customer_id)
    if profile is not None and profile.customer_name is not None:
        profile.customer_name = None
        profile.updated_at = utcnow()
        profile.version += 1


KNOWN_CUSTOMERS = KnownCustomers(
    KnownCustomer,
    repoint=[Repoint(Invoice), Repoint(Payment), Repoint(LedgerEntry), Repoint(WriteOff), Repoint(InvoiceDispute)],
    scrubs=[
        # Invoices and payments are kept for legal retention; the name printed on them goes.
        Scrub(Invoice, {"customer_name": None}, only=(col(Invoice.customer_name).is_not(None),)),
        # A payer's reference can carry a name or an account; the amounts and dates stay.
        Scrub(Payment, {"reference": None}),
        Scrub(LedgerEntry, {"reference": None}, only=(col(LedgerEntry.payment_id).is_not(None),)),
    ],
    on_merged=[_rekey_receivables, _fold_credit_profile],
    on_erased=[_strip_credit_profile_name],
)


def created_handler(settings: BillingSettings) -> Batched[CustomerCreated]:
    """customer.created: the local copy, then the customers' credit profiles (one run, batched)."""
    return KNOWN_CUSTOMERS.created(customer_created_handler(settings).apply)


on_customer_updated = KNOWN_CUSTOMERS.updated
on_customer_merged = KNOWN_CUSTOMERS.merged
on_customer_erased = KNOWN_CUSTOMERS.erased
