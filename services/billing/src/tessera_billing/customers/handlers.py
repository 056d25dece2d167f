"""customer.merged re-points billing records to the survivor; customer.erased strips personal data."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_billing.credit.models import CreditProfile
from tessera_billing.credit.rules import worse_rating
from tessera_billing.dunning.models import InvoiceDispute
from tessera_billing.invoices.models import Invoice
from tessera_billing.ledger import receivables
from tessera_billing.ledger.models import LedgerEntry
from tessera_billing.payments.models import Payment
from tessera_billing.writeoffs.models import WriteOff
from tessera_shared.db import utcnow
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import CustomerErased, CustomerMerged

_REPOINTED = (Invoice, Payment, LedgerEntry, WriteOff, InvoiceDispute)


async def on_customer_merged(session: AsyncSession, event: CloudEvent, data: CustomerMerged) -> None:
    if data.merged_id == data.survivor_id:
        return
    for model in _REPOINTED:
        await session.execute(
            update(model).where(col(model.customer_id) == data.merged_id).values(customer_id=data.survivor_id)
        )
    await receivables.rekey(session, data.merged_id, data.survivor_id)
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


async def on_customer_erased(session: AsyncSession, event: CloudEvent, data: CustomerErased) -> None:
    # Invoices and payments are kept for legal retention; the name printed on them goes.
    await session.execute(
        update(Invoice)
        .where(col(Invoice.customer_id) == data.customer_id, col(Invoice.customer_name).is_not(None))
        .values(customer_name=None)
    )
    # A payer's reference can carry a name or an account; the amounts and dates stay.
    await session.execute(update(Payment).where(col(Payment.customer_id) == data.customer_id).values(reference=None))
    await session.execute(
        update(LedgerEntry)
        .where(col(LedgerEntry.customer_id) == data.customer_id, col(LedgerEntry.payment_id).is_not(None))
        .values(reference=None)
    )
    profile = await session.get(CreditProfile, data.customer_id)
    if profile is not None and profile.customer_name is not None:
        profile.customer_name = None
        profile.updated_at = utcnow()
        profile.version += 1
