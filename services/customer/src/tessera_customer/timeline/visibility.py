"""Who reads which timeline entry: the read rule of the service the fact came from.

The timeline copies facts from sales, the service desk and billing. An entry is shown only to a
caller who could read the record it is about at its own service, so the timeline never says more
than the source would (a rep reads the lost-deal reason and the call notes of their own deals and
activities only; the reasons of a colleague's lost deal stay with sales). Entries a caller may not
read are left out of the page, not redacted: a redacted entry would still tell that a deal was
lost, and when. The customer service's own entries (customer.created, contact.added, ...) are
for every reader of the customer.

The rules below mirror the role lists of the source services (deals, leads and activities in
sales, tickets and surveys in the service desk, invoices and payments in billing);
``services/customer/tests/service/test_timeline_visibility.py`` compares them with those lists, so a
change at the source without a change here fails a test.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_customer.timeline.models import TimelineEntry
from tessera_shared.auth import OwnerScope, Principal, Role


@dataclass(frozen=True)
class SourceRule:
    """``readers`` may read the record at its service (admin always may). With ``all_owners`` set, the
    record has an owner: those roles read everyone's, other readers only the ones they own."""

    readers: frozenset[Role]
    all_owners: frozenset[Role] | None = None

    def reads(self, principal: Principal) -> bool:
        return principal.may(self.readers)

    def reads_all(self, principal: Principal) -> bool:
        return self.reads(principal) and (self.all_owners is None or principal.may(self.all_owners))


# sales: deals (READERS in deals/router.py; reps their own, access.SEE_ALL everyone's).
DEALS = SourceRule(
    frozenset({Role.SALES_MANAGER, Role.SALES_REP, Role.FINANCE_MANAGER, Role.SERVICE}),
    all_owners=frozenset({Role.SALES_MANAGER, Role.FINANCE_MANAGER, Role.SERVICE}),
)
# sales: leads and activities (SELLERS; reps their own, managers everyone's).
LEADS = ACTIVITIES = SourceRule(
    frozenset({Role.SALES_MANAGER, Role.SALES_REP}),
    all_owners=frozenset({Role.SALES_MANAGER, Role.FINANCE_MANAGER, Role.SERVICE}),
)
# service desk: tickets (READERS in tickets/router.py, no owner rule); surveys (STAFF_READERS).
TICKETS = SourceRule(
    frozenset(
        {Role.SUPPORT_AGENT, Role.SERVICE, Role.SALES_MANAGER, Role.SALES_REP, Role.BILLING_CLERK, Role.FINANCE_MANAGER}
    )
)
SURVEYS = SourceRule(frozenset({Role.SUPPORT_AGENT, Role.SALES_MANAGER}))
# billing: invoices and their dunning (READERS in invoices/router.py); payments (payments/router.py).
INVOICES = SourceRule(
    frozenset(
        {Role.BILLING_CLERK, Role.FINANCE_MANAGER, Role.SALES_MANAGER, Role.SALES_REP, Role.SUPPORT_AGENT, Role.SERVICE}
    )
)
PAYMENTS = SourceRule(frozenset({Role.BILLING_CLERK, Role.FINANCE_MANAGER, Role.SALES_MANAGER, Role.SERVICE}))
# billing: write-offs (READERS in writeoffs/router.py); credit profiles and their flags (CREDIT_READERS).
WRITE_OFFS = SourceRule(frozenset({Role.BILLING_CLERK, Role.FINANCE_MANAGER}))
CREDIT = SourceRule(
    frozenset({Role.BILLING_CLERK, Role.FINANCE_MANAGER, Role.SALES_MANAGER, Role.SALES_REP, Role.SERVICE})
)

# Per consumed event type (every type handlers.EFFECTS records but ABOUT_A_FACT's): the rule of the
# record it is about.
RULES: dict[str, SourceRule] = {
    "deal.created": DEALS,
    "deal.stage_changed": DEALS,
    "deal.won": DEALS,
    "deal.lost": DEALS,
    "lead.converted": LEADS,
    "activity.logged": ACTIVITIES,
    "ticket.opened": TICKETS,
    "ticket.escalated": TICKETS,
    "ticket.closed": TICKETS,
    "sla.breached": TICKETS,
    "survey.answered": SURVEYS,
    # notifications: a refusal of survey invitations, read by those who read the surveys.
    "email.unsubscribed": SURVEYS,
    "invoice.issued": INVOICES,
    "invoice.paid": INVOICES,
    "invoice.overdue": INVOICES,
    "dunning.step": INVOICES,
    "payment.received": PAYMENTS,
    # billing: paying an invoice with points (loyalty/router.py reads them as INVOICE_READERS).
    "loyalty.payment_requested": INVOICES,
    "loyalty.payment_reversed": INVOICES,
    "invoice.written_off": WRITE_OFFS,
    "credit.limit_exceeded": CREDIT,
}

# Entries about another fact (``data.source_type``): read under that fact's rule. A failed e-mail
# about a dunning step is read by the invoices' readers, one about a closed ticket by the tickets'
# readers; for a fact with an owner rule (or none known here) by those who read all such records.
ABOUT_A_FACT: frozenset[str] = frozenset({"notification.failed"})


def owner_of_entry() -> ColumnElement[str]:
    """The record's owner as the fact announced it (the events' ``owner_id``)."""
    return TimelineEntry.data["owner_id"].as_string()


def visible_to(principal: Principal) -> ColumnElement[bool] | None:
    """A condition on timeline entries: the ones ``principal`` may read; None when all of them."""
    if principal.has_any({Role.ADMIN}):
        return None
    entry_kind = col(TimelineEntry.kind)
    own_entries = and_(col(TimelineEntry.source) == "customer", entry_kind.not_in(list(RULES)))
    every = sorted(kind for kind, rule in RULES.items() if rule.reads_all(principal))
    owned = sorted(kind for kind, rule in RULES.items() if rule.reads(principal) and not rule.reads_all(principal))
    about = TimelineEntry.data["source_type"].as_string()
    return or_(
        own_entries,
        entry_kind.in_(every) if every else false(),
        and_(entry_kind.in_(owned), OwnerScope.of(principal).clause(owner_of_entry())) if owned else false(),
        and_(entry_kind.in_(list(ABOUT_A_FACT)), about.in_(every)) if every else false(),
    )


async def lost_deals_seen_by(
    session: AsyncSession, principal: Principal, customer_id: uuid.UUID
) -> tuple[int, dict[str, int]] | None:
    """The customer's lost deals and their reasons as ``principal`` may read them at sales (a rep:
    their own, from the timeline's deal.lost entries); None when the caller reads every deal and
    the customer's running totals apply."""
    if DEALS.reads_all(principal):
        return None
    stmt = select(TimelineEntry.data["reason"].as_string()).where(
        col(TimelineEntry.customer_id) == customer_id, col(TimelineEntry.kind) == "deal.lost"
    )
    if (visible := visible_to(principal)) is not None:
        stmt = stmt.where(visible)
    reasons = list((await session.scalars(stmt)).all())
    return len(reasons), dict(Counter(r[:100] for r in reasons if r))
