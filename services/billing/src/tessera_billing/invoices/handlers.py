"""deal.won → one invoice per deal, and a credit flag when it breaks the customer's limit."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.credit.rules import credit_check
from tessera_billing.credit.service import exposure, get_or_create_profile
from tessera_billing.invoices.pending import park, take_parked
from tessera_billing.invoices.repository import InvoiceRepository
from tessera_billing.invoices.service import LineSpec, create_invoice, issue_invoice
from tessera_billing.known_customers.handlers import KNOWN_CUSTOMERS
from tessera_billing.loyalty.discount import with_member_discount
from tessera_billing.money import quantize
from tessera_billing.settings import BillingSettings
from tessera_shared.consumer import Handler
from tessera_shared.db import utcnow
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import CreditLimitExceeded, CustomerCreated, DealWon
from tessera_shared.known_customers import CreatedWork
from tessera_shared.outbox import publish


def lines_of(deal: DealWon) -> list[LineSpec]:
    if not deal.line_items:
        return [LineSpec(description=deal.title[:500], quantity=Decimal(1), unit_price=deal.amount)]
    return [
        LineSpec(
            description=item.description[:500],
            product_code=item.product_code,
            quantity=item.quantity,
            unit_price=item.unit_price,
            discount_percent=item.discount_percent,
            tax_rate_percent=item.tax_rate_percent,
        )
        for item in deal.line_items
    ]


def deal_won_handler(settings: BillingSettings) -> Handler[DealWon]:
    async def on_deal_won(session: AsyncSession, event: CloudEvent, data: DealWon) -> None:
        # The inbox dedupes deliveries; this (and the unique deal_id) dedupes re-announcements.
        if await InvoiceRepository(session).by_deal(data.deal_id) is not None:
            return
        # Known customers only (docs/domain.md §10.2): a win for a customer not announced here yet
        # is parked, and invoiced when its customer.created arrives (``parked_deal_wins``).
        found = await KNOWN_CUSTOMERS.known(session, data.customer_id)
        if found.unknown:
            await park(session, data)
            return
        if found.merged and found.survivor_id is not None:
            data = data.model_copy(update={"customer_id": found.survivor_id})  # the merge re-pointed the rest
        profile = await get_or_create_profile(session, data.customer_id, settings)
        issue_date = data.won_at.date()
        invoice = await create_invoice(
            session,
            settings,
            customer_id=data.customer_id,
            currency=data.currency,
            lines=await with_member_discount(session, settings, data.customer_id, lines_of(data), data.currency),
            issue_date=issue_date,
            payment_terms_days=data.payment_terms_days,
            created_by="deal.won",
            deal_id=data.deal_id,
        )
        checked = data.credit_check
        if checked is not None and not checked.fits:
            # Sales refused this win past the limit unless a finance manager approved an override
            # (docs/domain.md §10.1): the event is the record of that approval, with sales' figures.
            await publish(
                session,
                CreditLimitExceeded(
                    customer_id=data.customer_id,
                    deal_id=data.deal_id,
                    requested_amount=checked.amount,
                    exposure=checked.exposure,
                    credit_limit=checked.credit_limit,
                    currency=checked.currency,
                    detected_at=utcnow(),
                    approved_by=data.credit_override_by,
                    exchange_rate=checked.exchange_rate,
                    deal_currency=data.currency if checked.exchange_rate is not None else None,
                ),
                subject=data.customer_id,
            )
        elif checked is None and profile.currency == invoice.currency:
            # A win sales did not check (no limit known to it then): billing's own check, same currency.
            current = await exposure(session, data.customer_id, invoice.currency)
            decision = credit_check(profile.credit_limit, current, invoice.total)
            if not decision.fits:
                await publish(
                    session,
                    CreditLimitExceeded(
                        customer_id=data.customer_id,
                        deal_id=data.deal_id,
                        requested_amount=quantize(invoice.total, invoice.currency),
                        exposure=quantize(current, invoice.currency),
                        credit_limit=quantize(profile.credit_limit, invoice.currency),
                        currency=invoice.currency,
                        detected_at=utcnow(),
                    ),
                    subject=data.customer_id,
                )
        if settings.issue_invoices_from_deals:
            await issue_invoice(session, settings, invoice, issue_date=issue_date)

    return on_deal_won


def parked_deal_wins(settings: BillingSettings) -> CreatedWork:
    """customer.created's further work: the customers' parked deal.won facts become their invoices,
    in the same transaction (a redelivered customer.created finds the park empty)."""
    on_deal_won = deal_won_handler(settings)

    async def drain(session: AsyncSession, events: list[tuple[CloudEvent, CustomerCreated]]) -> None:
        by_customer = {data.customer_id: event for event, data in events}
        for won in await take_parked(session, list(by_customer)):
            await on_deal_won(session, by_customer[won.customer_id], won)

    return drain
