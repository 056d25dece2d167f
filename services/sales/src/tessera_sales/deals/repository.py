from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, exists, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.credit.models import CreditLine, DealCreditCheck, OverdueInvoice
from tessera_sales.deals.models import TAGS, Deal, DealLine, DealStageChange
from tessera_sales.pipelines.models import Pipeline, PipelineStage
from tessera_sales.pipelines.rules import Stages
from tessera_sales.pipelines.service import stages_from
from tessera_shared.auth import OwnerScope
from tessera_shared.db import MoneySum, dialect_name, table_of
from tessera_shared.http.pagination import PageParams, paginate


@dataclass
class WinState:
    """What a win decides on, read in two statements: the deal and its customer's credit line (both
    locked), the deal's pipeline's stages, its open stage-history row, the customer's checked wins
    not invoiced yet in the limit's currency (summed), whether it has overdue invoices, and the
    deal's lines."""

    deal: Deal
    line: CreditLine
    stages: Stages
    current: DealStageChange | None
    pending: Decimal
    on_hold: bool
    lines: list[DealLine]


# The deal and its customer's credit line locked, with the deal's pipeline and its stages (a row
# per stage; a stage is never removed while a deal is in it).
_WIN_LOCKED = (
    select(Deal, CreditLine, Pipeline, PipelineStage)
    .join(CreditLine, col(CreditLine.customer_id) == col(Deal.customer_id))
    .join(Pipeline, col(Pipeline.id) == col(Deal.pipeline_id))
    .join(PipelineStage, col(PipelineStage.pipeline_id) == col(Pipeline.id))
    .where(col(Deal.id) == bindparam("deal_id"))
    .order_by(col(PipelineStage.position))
    .with_for_update(of=[table_of(Deal), table_of(CreditLine)])
)


_WIN_AFTER: dict[bool, Any] = {}


def _win_after(money: MoneySum) -> Any:
    """Under the win's locks: the customer's unbilled checked wins in the limit's currency summed
    (``MoneySum``, exact on either database), whether it has overdue invoices, the deal's open
    history row and its lines (a row per line). Built once per database kind."""
    if (built := _WIN_AFTER.get(money.sqlite)) is not None:
        return built
    pending = (
        select(money.sum(col(DealCreditCheck.amount)))
        .where(
            col(DealCreditCheck.customer_id) == bindparam("customer_id"),
            col(DealCreditCheck.deal_id) != bindparam("deal_id"),
            col(DealCreditCheck.currency) == bindparam("currency"),
            col(DealCreditCheck.invoiced).is_(False),
        )
        .scalar_subquery()
    )
    on_hold = exists().where(col(OverdueInvoice.customer_id) == bindparam("customer_id"))
    built = _WIN_AFTER[money.sqlite] = (
        select(pending, on_hold, DealStageChange, DealLine)
        .select_from(table_of(Deal))
        .outerjoin(
            DealStageChange,
            and_(col(DealStageChange.deal_id) == col(Deal.id), col(DealStageChange.left_at).is_(None)),
        )
        .outerjoin(DealLine, col(DealLine.deal_id) == col(Deal.id))
        .where(col(Deal.id) == bindparam("deal_id"))
        .order_by(col(DealStageChange.entered_at).desc(), col(DealLine.position))
    )
    return built


def _update_of(obj: Deal | DealStageChange) -> Any:
    """The UPDATE the session's flush would write for ``obj``'s changed columns."""
    state = inspect(obj)
    table = table_of(type(obj))
    changed = {
        p.columns[0].name: getattr(obj, p.key)
        for p in state.mapper.column_attrs
        if state.attrs[p.key].history.has_changes()
    }
    return update(table).where(table.c.id == obj.id).values(changed)


class DealRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, deal_id: uuid.UUID, *, for_update: bool = False) -> Deal | None:
        if for_update:
            return (
                await self.session.execute(select(Deal).where(col(Deal.id) == deal_id).with_for_update())
            ).scalar_one_or_none()
        return await self.session.get(Deal, deal_id)

    async def for_win(self, deal_id: uuid.UUID) -> WinState | None:
        """The deal's ``WinState`` in two statements; None when there is no such deal or sales has no
        credit line of its customer yet (billing announced none). The second statement reads
        after the locks are held (PostgreSQL takes a statement's snapshot before it waits for a
        lock): a win, stage change or new lines that held them are seen whole."""
        rows = (await self.session.execute(_WIN_LOCKED, {"deal_id": deal_id})).all()
        if not rows:
            return None
        deal, line, pipeline, _ = rows[0]
        stages = stages_from(pipeline, [r[3] for r in rows])
        money = MoneySum(self.session)
        params = {"deal_id": deal.id, "customer_id": deal.customer_id, "currency": line.currency}
        after = (await self.session.execute(_win_after(money), params)).all()
        raw_pending, hold, current, _ = after[0]
        # The open history row is one (the newest if ever more); the deal's lines in their order.
        lines = [r[3] for r in after if r[3] is not None and r[2] is current]
        return WinState(deal, line, stages, current, money.value(raw_pending), bool(hold), lines)

    async def write_win(
        self, deal: Deal, current: DealStageChange | None, entered: DealStageChange, checked: Any
    ) -> None:
        """A win's rows: the credit check (``checked``, an upsert not run yet), the deal's changed
        columns, its open history row closed (``current``, changed in memory) and the row it enters
        (``entered``). On PostgreSQL in one statement (the others as CTEs of the history row's
        INSERT; the deal and ``current`` leave the session as written); elsewhere through the
        session's flush."""
        if dialect_name(self.session) != "postgresql":
            await self.session.execute(checked)
            self.session.add(entered)
            await self.session.flush()
            return
        writes = [checked.cte("win_check"), _update_of(deal).cte("win_deal")]
        if current is not None:
            writes.append(_update_of(current).cte("win_left"))
        history = table_of(DealStageChange)
        values = {p.columns[0].name: getattr(entered, p.key) for p in inspect(DealStageChange).column_attrs}
        with self.session.no_autoflush:  # the statement writes what a flush would
            await self.session.execute(insert(history).values(values).add_cte(*writes))
        for written in (deal, current):
            if written is not None:
                self.session.expunge(written)

    async def lines(self, deal_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[DealLine]]:
        out: dict[uuid.UUID, list[DealLine]] = defaultdict(list)
        if deal_ids:
            rows = await self.session.execute(
                select(DealLine)
                .where(col(DealLine.deal_id).in_(deal_ids))
                .order_by(col(DealLine.deal_id), col(DealLine.position))
            )
            for line in rows.scalars():
                out[line.deal_id].append(line)
        return out

    async def history(self, deal_id: uuid.UUID) -> list[DealStageChange]:
        rows = await self.session.execute(
            select(DealStageChange)
            .where(col(DealStageChange.deal_id) == deal_id)
            .order_by(col(DealStageChange.entered_at), col(DealStageChange.id))
        )
        return list(rows.scalars())

    async def current_stage_row(self, deal_id: uuid.UUID) -> DealStageChange | None:
        return (
            await self.session.execute(
                select(DealStageChange)
                .where(col(DealStageChange.deal_id) == deal_id, col(DealStageChange.left_at).is_(None))
                .order_by(col(DealStageChange.entered_at).desc())
                .limit(1)
            )
        ).scalar_one_or_none()

    async def list(
        self,
        params: PageParams,
        *,
        owner_id: OwnerScope | None = None,
        customer_id: uuid.UUID | None = None,
        stage: str | None = None,
        campaign_id: uuid.UUID | None = None,
        pipeline_id: uuid.UUID | None = None,
        where: Sequence[Any] = (),
        tag: str | None = None,
    ) -> tuple[list[Deal], str | None]:
        stmt = select(Deal).where(*where)
        if owner_id is not None:
            stmt = stmt.where(owner_id.clause(col(Deal.owner_id), col(Deal.team_id)))
        if customer_id is not None:
            stmt = stmt.where(col(Deal.customer_id) == customer_id)
        if stage is not None:
            stmt = stmt.where(col(Deal.stage) == stage)
        if campaign_id is not None:
            stmt = stmt.where(col(Deal.campaign_id) == campaign_id)
        if pipeline_id is not None:
            stmt = stmt.where(col(Deal.pipeline_id) == pipeline_id)
        if tag is not None:
            stmt = stmt.where(TAGS.tagged(tag))
        return await paginate(self.session, stmt, params, (col(Deal.id),))
