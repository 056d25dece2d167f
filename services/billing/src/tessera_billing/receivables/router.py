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

from tessera_billing.api import CREDIT_READERS, INVOICE_READERS, REPORT_READERS, SettingsDep, today
from tessera_billing.credit.service import find_profile
from tessera_billing.invoices.schemas import InvoiceOut
from tessera_billing.payments.service import credit_balances
from tessera_billing.receivables.schemas import CreditSummary, CurrencyAmount, ReceivablesSummary
from tessera_billing.receivables.service import open_invoices, open_sums, recent_invoices
from tessera_billing.reports import repository as reports
from tessera_billing.reports.schemas import AgingBuckets
from tessera_shared.auth import Principal, require_roles
from tessera_shared.db import read_session

router = APIRouter(prefix="/v1/receivables", tags=["receivables"])

OPEN_LISTED = 200
RECENT = 10


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
    principal: Annotated[Principal, require_roles(*INVOICE_READERS)],
) -> Response:
    as_of = today()
    async with read_session(request.app.state.runtime.sessions, snapshot=True) as session:
        open_rows = await open_invoices(session, customer_id, OPEN_LISTED + 1)
        recent = await recent_invoices(session, customer_id, RECENT)
        balance, overdue = await open_sums(session, customer_id)
        aging = None
        if principal.may(REPORT_READERS):
            aging = [AgingBuckets(**row) for row in await reports.aging_totals(session, as_of, customer_id, None)]
        credit = None
        if principal.may(CREDIT_READERS):
            profile = await find_profile(session, customer_id)
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
