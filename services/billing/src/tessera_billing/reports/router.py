from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AfterValidator

from tessera_billing.api import REPORT_READERS, Currency, today
from tessera_billing.credit.service import find_profile
from tessera_billing.payments.service import credit_balance
from tessera_billing.reports import repository as repo
from tessera_billing.reports.rules import closing_balance, days_sales_outstanding, month_bounds
from tessera_billing.reports.schemas import (
    AgingBuckets,
    AgingReport,
    CustomerAging,
    DsoLine,
    DsoReport,
    RollforwardLine,
    RollforwardReport,
    Statement,
    StatementLine,
)
from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.errors import InvalidInput
from tessera_shared.http.inputs import IsoDate
from tessera_shared.http.pagination import PageQuery, decode_cursor, encode_cursor
from tessera_shared.http.renamed import formerly

router = APIRouter(prefix="/v1/reports", tags=["reports"])

READERS = REPORT_READERS
CurrencyQuery = Annotated[Currency | None, Query(description="Only this currency")]
STATEMENT_MAX_LINES = 2000


def _calendar_month(value: str) -> str:
    month_bounds(value)  # ValueError (a 422 naming the field) for a month the calendar lacks, e.g. 0000-01
    return value


MonthQuery = Annotated[
    str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM"), AfterValidator(_calendar_month)
]


@router.get(
    "/aging",
    response_model=AgingReport,
    summary="Receivables by days overdue (current, 1-30, 31-60, 61-90, over 90) as of any day",
)
async def aging_report(
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
    as_of: Annotated[IsoDate | None, Query(description="Defaults to today")] = None,
    customer_id: uuid.UUID | None = None,
    currency: CurrencyQuery = None,
) -> AgingReport:
    as_of = as_of or today()
    after = None
    if page.cursor:
        customer, currency_after = decode_cursor(page.cursor, (uuid.UUID, str), page.scope)
        after = (customer, currency_after)
    totals = await repo.aging_totals(session, as_of, customer_id, currency)
    rows = await repo.aging_by_customer(session, as_of, customer_id, currency, page.limit + 1, after)
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        next_cursor = encode_cursor([rows[-1]["customer_id"], rows[-1]["currency"]], page.scope)
    return AgingReport(
        as_of=as_of,
        totals=[AgingBuckets(**t) for t in totals],
        customers=[CustomerAging(**r) for r in rows],
        next_cursor=next_cursor,
    )


@router.get(
    "/rollforward",
    response_model=RollforwardReport,
    summary="Monthly roll-forward: opening, invoiced, collected, written off, voided, closing",
)
async def rollforward_report(
    session: SessionDep,
    _: Annotated[Principal, require_roles(*READERS)],
    month: MonthQuery,
    currency: CurrencyQuery = None,
) -> RollforwardReport:
    start, end = month_bounds(month)
    lines = []
    for row in await repo.rollforward(session, start, end, currency):
        # The database sums every movement; the identity must hold or the ledger is broken.
        assert (  # noqa: S101 - an invariant of the ledger, not a check of input
            closing_balance(row["opening"], row["invoiced"], row["collected"], row["written_off"], row["voided"])
            == row["closing"]
        ), row
        lines.append(RollforwardLine(**row))
    return RollforwardReport(month=month, start=start, end=end - timedelta(days=1), currencies=lines)


@router.get("/dso", response_model=DsoReport, summary="Days sales outstanding over a trailing period")
async def dso_report(
    session: SessionDep,
    _: Annotated[Principal, require_roles(*READERS)],
    as_of: Annotated[IsoDate | None, Query(description="Defaults to today")] = None,
    days: Annotated[int, Query(ge=1, le=366, description="Length of the trailing period")] = 90,
    currency: CurrencyQuery = None,
) -> DsoReport:
    as_of = as_of or today()
    rows = await repo.receivables_and_sales(session, as_of, as_of - timedelta(days=days), currency)
    return DsoReport(
        as_of=as_of,
        period_days=days,
        currencies=[DsoLine(**r, dso_days=days_sales_outstanding(r["receivables"], r["sales"], days)) for r in rows],
    )


@router.get("/statement", response_model=Statement, summary="A customer's statement of account for a period")
async def statement_report(
    session: SessionDep,
    _: Annotated[Principal, require_roles(*READERS)],
    customer_id: uuid.UUID,
    currency: Currency,
    start: Annotated[IsoDate, Query(alias="since", description=f"First day. {formerly('since')}")],
    end: Annotated[IsoDate, Query(alias="until", description=f"Last day (inclusive). {formerly('until')}")],
) -> Statement:
    if end < start:
        raise InvalidInput("until", "must not be before 'since'", "query")
    if (end - start).days > 366:
        raise InvalidInput("until", "a statement covers at most 366 days", "query")
    opening, raw = await repo.statement_lines(session, customer_id, currency, start, end, STATEMENT_MAX_LINES + 1)
    truncated = len(raw) > STATEMENT_MAX_LINES
    balance = opening
    lines = []
    for r in raw[:STATEMENT_MAX_LINES]:
        balance += r["amount"]
        lines.append(
            StatementLine(
                currency=currency,
                entry_date=r["entry_date"],
                kind=r["kind"],
                invoice_id=r["invoice_id"],
                invoice_number=r["number"],
                payment_id=r["payment_id"],
                reference=r["reference"],
                amount=r["amount"],
                balance=balance,
                member_discount=r["member_discount"],
                loyalty_points=r["loyalty_points"],
            )
        )
    profile = await find_profile(session, customer_id)
    return Statement(
        customer_id=customer_id,
        customer_name=profile.customer_name if profile else None,
        currency=currency,
        start=start,
        end=end,
        opening_balance=opening,
        lines=lines,
        closing_balance=balance,
        credit_balance=await credit_balance(session, customer_id, currency),
        truncated=truncated,
    )
