"""``GET /v1/receivables/{customer_id}``: billing's part of the customer 360 view in one read.

The view would otherwise call the invoice list, the credit profile and the ageing report; each
call costs a request's fixed overhead, and three reads see three moments. Here one read-only
transaction (one snapshot) answers all of it, with the same rules as those endpoints.
"""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Request, Response
from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_billing.api import SettingsDep, today
from tessera_billing.credit.models import CreditProfile
from tessera_billing.credit.router import READERS as CREDIT_READERS
from tessera_billing.invoices.models import Invoice
from tessera_billing.invoices.router import READERS
from tessera_billing.invoices.rules import OPEN_STATUSES, InvoiceStatus
from tessera_billing.invoices.schemas import InvoiceOut
from tessera_billing.payments.service import credit_balances
from tessera_billing.receivables.schemas import CreditSummary, CurrencyAmount, ReceivablesSummary
from tessera_billing.reports import repository as reports
from tessera_billing.reports.router import READERS as REPORT_READERS
from tessera_billing.reports.schemas import AgingBuckets
from tessera_shared.auth import Principal, require_roles
from tessera_shared.db import MoneySum, read_session

router = APIRouter(prefix="/v1/receivables", tags=["receivables"])

OPEN_LISTED = 200
RECENT = 10


async def _open_sums(session: AsyncSession, customer_id: uuid.UUID) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    sums = MoneySum(session)
    overdue = case((col(Invoice.status) == InvoiceStatus.OVERDUE.value, col(Invoice.balance_due)), else_=0)
    rows = (
        await session.execute(
            select(
                col(Invoice.currency),
                sums.sum(col(Invoice.balance_due)).label("open"),
                sums.sum(overdue).label("overdue"),
            )
            .where(col(Invoice.customer_id) == customer_id, col(Invoice.status).in_([s.value for s in OPEN_STATUSES]))
            .group_by(col(Invoice.currency))
            .order_by(col(Invoice.currency))
        )
    ).all()
    return {r.currency: sums.value(r.open) for r in rows}, {r.currency: sums.value(r.overdue) for r in rows}


def _amounts(by_currency: dict[str, Decimal], *, nonzero: bool = False) -> list[CurrencyAmount]:
    return [CurrencyAmount(currency=c, amount=v) for c, v in sorted(by_currency.items()) if not nonzero or v != 0]


@router.get(
    "/{customer_id}",
    response_model=ReceivablesSummary,
    summary="Open and recent invoices, balance, overdue, ageing, credit profile and customer credit in one read",
)
async def get_receivables(
    customer_id: uuid.UUID,
    request: Request,
    settings: SettingsDep,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> Response:
    as_of = today()
    async with read_session(request.app.state.runtime.sessions, snapshot=True) as session:
        mine = select(Invoice).where(col(Invoice.customer_id) == customer_id)
        open_rows = list(
            (
                await session.execute(
                    mine.where(col(Invoice.status).in_([s.value for s in OPEN_STATUSES]))
                    .order_by(col(Invoice.id))
                    .limit(OPEN_LISTED + 1)
                )
            ).scalars()
        )
        recent = list(
            (
                await session.execute(
                    mine.order_by(col(Invoice.issue_date).desc(), col(Invoice.id).desc()).limit(RECENT)
                )
            ).scalars()
        )
        balance, overdue = await _open_sums(session, customer_id)
        aging = None
        if principal.may(REPORT_READERS):
            aging = [AgingBuckets(**row) for row in await reports.aging_totals(session, as_of, customer_id, None)]
        credit = None
        if principal.may(CREDIT_READERS):
            profile = await session.get(CreditProfile, customer_id)
            terms = (
                (profile.rating, profile.credit_limit, profile.currency, profile.payment_terms_days)
                if profile
                else (
                    settings.default_credit_rating,
                    settings.default_credit_limit,
                    settings.default_currency,
                    settings.default_payment_terms_days,
                )
            )  # what billing will give the customer when it first sees it
            credit = CreditSummary(
                known=profile is not None,
                rating=terms[0],
                credit_limit=terms[1],
                currency=terms[2],
                payment_terms_days=terms[3],
                exposure=balance.get(terms[2], Decimal(0)),
            )
        customer_credit = {c: v for c, v in (await credit_balances(session, customer_id)).items() if v > 0}
        # Inside the transaction: its end expires the rows read.
        body = ReceivablesSummary(
            customer_id=customer_id,
            as_of=as_of,
            open_invoices=[InvoiceOut.model_validate(i) for i in open_rows[:OPEN_LISTED]],
            recent_invoices=[InvoiceOut.model_validate(i) for i in recent],
            balance=_amounts(balance),
            overdue_amount=_amounts(overdue, nonzero=True),
            aging=aging,
            credit=credit,
            customer_credit=_amounts(customer_credit),
            truncated=len(open_rows) > OPEN_LISTED,
        ).model_dump_json()
    # No version to name: the ETag is a digest of what was read.
    etag = '"' + hashlib.blake2b(body.encode(), digest_size=16).hexdigest() + '"'
    return Response(body, media_type="application/json", headers={"ETag": etag})
