"""Deal use cases: each changes state and records its events in the caller's transaction (flush only)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_sales.campaigns.service import check_campaign
from tessera_sales.catalog.models import Product
from tessera_sales.credit.models import OverdueInvoice
from tessera_sales.credit.service import (
    CreditLimitExceeded,
    await_credit_position,
    check_upsert,
    check_with,
    limit_check,
)
from tessera_sales.custom_fields import CUSTOM_FIELDS
from tessera_sales.deals import rules
from tessera_sales.deals.models import TAGS, Deal, DealLine, DealStageChange
from tessera_sales.deals.repository import DealRepository, WinState
from tessera_sales.deals.schemas import DealCreate, DealPatch, LineItemIn, LoseRequest, ReopenRequest, WinRequest
from tessera_sales.known_customers.handlers import KNOWN_CUSTOMERS
from tessera_sales.money import check_minor_units, quantize, to_minor
from tessera_sales.ownership import check_reassign, may_see, owner_for_new
from tessera_sales.pipelines.rules import Stages
from tessera_sales.pipelines.service import (
    stage_exists,
    stage_names,
    stages_for_deal,
    stages_for_new_deal,
)
from tessera_shared.auth import OwnerScope, Principal, Role
from tessera_shared.credit import LimitCheck
from tessera_shared.db import new_id, utcnow
from tessera_shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from tessera_shared.events.contracts import (
    CreditCheck,
    DealChanges,
    DealCreated,
    DealLargeDetected,
    DealLost,
    DealStageChanged,
    DealUpdated,
    DealWon,
    LineItem,
)
from tessera_shared.http.pagination import PageParams
from tessera_shared.money import fits, too_large
from tessera_shared.outbox import outbox_row, publish, publish_many
from tessera_shared.tags import normalise

Thresholds = Mapping[str, Decimal]
CREDIT_OVERRIDERS = frozenset({Role.FINANCE_MANAGER, Role.ADMIN})


async def check_customer(session: AsyncSession, customer_id: uuid.UUID) -> None:
    """Known customers only (docs/domain.md §10.2), on the local copy: the router read an id sales
    had not seen through the customer service before this transaction (``ReadThroughDep``);
    unknown, merged away or erased → 422."""
    await KNOWN_CUSTOMERS.require(session, customer_id)


async def get_deal(
    session: AsyncSession, deal_id: uuid.UUID, principal: Principal, *, for_update: bool = False
) -> Deal:
    """The deal, if the principal may see it (404 otherwise); ``for_update`` locks its row."""
    deal = await DealRepository(session).get(deal_id, for_update=for_update)
    if deal is None or not may_see(principal, deal.owner_id, deal.team_id):
        # The same answer for missing and not-yours: a rep learns nothing about others' records.
        raise NotFound("deal", deal_id)
    return deal


async def pipelines_of(session: AsyncSession, deals: list[Deal]) -> dict[uuid.UUID, Stages]:
    """The pipelines of ``deals``, for the names of their pipeline and stage."""
    return await stage_names(session, {d.pipeline_id for d in deals})


async def lines_of(session: AsyncSession, deal_id: uuid.UUID) -> list[DealLine]:
    return (await DealRepository(session).lines([deal_id])).get(deal_id, [])


async def list_deals(
    session: AsyncSession,
    page: PageParams,
    *,
    owner_id: OwnerScope | None,
    customer_id: uuid.UUID | None,
    stage: str | None,
    campaign_id: uuid.UUID | None,
    custom_fields: Iterable[tuple[str, str]] = (),
    pipeline_id: uuid.UUID | None = None,
    tag: str | None = None,
    team_id: uuid.UUID | None = None,
) -> tuple[list[Deal], str | None, dict[uuid.UUID, list[DealLine]]]:
    """One page of deals (``owner_id`` already scoped by the caller), its next cursor and the deals' lines."""
    if stage is not None and not await stage_exists(session, stage, pipeline_id):
        raise InvalidInput("stage", f"no {'such ' if pipeline_id else ''}pipeline has a stage {stage!r}", "query")
    # ?custom_fields.<key>[op]=v (tessera_shared.custom_fields): 422 naming a bad one.
    where = await CUSTOM_FIELDS.list_filters(session, "deal", custom_fields)
    if team_id is not None:
        where = [*where, col(Deal.team_id) == team_id]
    repo = DealRepository(session)
    rows, next_cursor = await repo.list(
        page,
        where=where,
        owner_id=owner_id,
        customer_id=customer_id,
        stage=stage,
        campaign_id=campaign_id,
        pipeline_id=pipeline_id,
        tag=tag,
    )
    return rows, next_cursor, await repo.lines([d.id for d in rows])


async def stage_history(session: AsyncSession, deal_id: uuid.UUID) -> list[DealStageChange]:
    return await DealRepository(session).history(deal_id)


async def build_lines(
    session: AsyncSession, deal_id: uuid.UUID, items: list[LineItemIn], currency: str
) -> list[DealLine]:
    """The lines of deal ``deal_id``, with catalog defaults filled in and totals computed; 422 names the line at
    fault."""
    codes = {i.product_code for i in items if i.product_code}
    products: dict[str, Product] = {}
    if codes:
        rows = await session.execute(select(Product).where(col(Product.code).in_(codes)))
        products = {p.code: p for p in rows.scalars()}
    lines = []
    for n, item in enumerate(items):
        product = products.get(item.product_code) if item.product_code else None
        if item.product_code and (product is None or not product.active):
            raise InvalidInput(f"line_items.{n}.product_code", f"no active product {item.product_code!r}")
        if product is not None and product.currency != currency and item.unit_price is None:
            raise InvalidInput(
                f"line_items.{n}.unit_price", f"product is priced in {product.currency}; give a {currency} unit price"
            )
        unit_price = item.unit_price if item.unit_price is not None else (product.unit_price if product else None)
        description = item.description or (product.name if product else None)
        if unit_price is None:
            raise InvalidInput(f"line_items.{n}.unit_price", "required without a product_code")
        if description is None:
            raise InvalidInput(f"line_items.{n}.description", "required without a product_code")
        # Checked before rounding: a product past the limit would not even quantize.
        if not fits(item.quantity * unit_price, currency):
            raise InvalidInput(f"line_items.{n}.quantity", f"quantity x unit_price: {too_large(currency)}")
        total = rules.line_total(rules.Line(item.quantity, unit_price, item.discount_percent), currency)
        lines.append(
            DealLine(
                deal_id=deal_id,
                position=n + 1,
                product_code=item.product_code,
                description=description,
                quantity=item.quantity,
                unit_price=unit_price,
                discount_percent=item.discount_percent,
                tax_rate_percent=item.tax_rate_percent,
                line_total=total,
            )
        )
    return lines


def _amount_of(lines: list[DealLine], given: Decimal | None, currency: str) -> Decimal:
    if not lines:
        if given is None:
            raise InvalidInput("amount", "required when the deal has no line_items")
        return given
    computed = quantize(sum((line.line_total for line in lines), Decimal(0)), currency)
    if not fits(computed, currency):
        raise InvalidInput("line_items", f"the deal amount: {too_large(currency)}")
    if given is not None and given != computed:
        raise InvalidInput("amount", f"must equal the sum of line_items ({computed}) or be left out")
    return computed


def _set_amount(deal: Deal, amount: Decimal) -> None:
    amount = quantize(amount, deal.currency)
    deal.amount = amount
    deal.amount_minor = to_minor(amount, deal.currency)


def _set_close_date(deal: Deal, value: date | None) -> None:
    deal.expected_close_date = value
    deal.close_month = value.strftime("%Y-%m") if value else None


def _large_event(deal: Deal, thresholds: Thresholds) -> DealLargeDetected | None:
    """deal.large.detected when the deal's amount crosses its currency's threshold (then flagged)."""
    threshold = thresholds.get(deal.currency)
    event = None
    if rules.crosses_large_threshold(deal.large_flagged, deal.amount, threshold):
        event = DealLargeDetected(
            deal_id=deal.id,
            customer_id=deal.customer_id,
            amount=deal.amount,
            currency=deal.currency,
            threshold=threshold,
            owner_id=deal.owner_id,
            detected_at=utcnow(),
        )
    deal.large_flagged = rules.is_large(deal.amount, threshold)
    return event


async def _enter_stage(
    session: AsyncSession,
    deal: Deal,
    to_stage: str,
    by: str,
    at: datetime,
    reason: str | None = None,
    *,
    stages: Stages,
) -> str | None:
    """Close the current history row and open the next (in ``stages``, the deal's pipeline from
    now on); returns the stage left."""
    current = await DealRepository(session).current_stage_row(deal.id)
    return _move(session, deal, current, to_stage, by, at, reason, stages=stages)


def _move(
    session: AsyncSession,
    deal: Deal,
    current: DealStageChange | None,
    to_stage: str,
    by: str,
    at: datetime,
    reason: str | None = None,
    *,
    stages: Stages,
) -> str | None:
    """``_enter_stage`` with the deal's open history row (``current``) already read."""
    from_stage, row = _moved(deal, current, to_stage, by, at, reason, stages=stages)
    session.add(row)
    return from_stage


def _moved(
    deal: Deal,
    current: DealStageChange | None,
    to_stage: str,
    by: str,
    at: datetime,
    reason: str | None = None,
    *,
    stages: Stages,
) -> tuple[str | None, DealStageChange]:
    """The deal moved to ``to_stage`` in memory, its open history row (``current``) closed; returns
    the stage left and the new history row (not added to the session)."""
    from_stage = None
    if current is not None:
        from_stage = current.to_stage
        current.left_at = at
        current.duration_seconds = max(int((at - current.entered_at).total_seconds()), 0)
    return from_stage, _stage_row(deal, from_stage, to_stage, by, at, reason, stages=stages)


def _stage_row(
    deal: Deal, from_stage: str | None, to_stage: str, by: str, at: datetime, reason: str | None, *, stages: Stages
) -> DealStageChange:
    """The history row of the deal entering ``to_stage``, the deal moved there."""
    row = DealStageChange(
        deal_id=deal.id,
        pipeline_id=stages.pipeline_id,
        from_stage=from_stage,
        to_stage=to_stage,
        to_rank=stages.rank[to_stage],
        changed_by=by,
        entered_at=at,
        reason=reason,
    )
    # The funnel counts the furthest stage reached in the deal's pipeline: a move to another pipeline starts over.
    moved = deal.pipeline_id is not None and deal.pipeline_id != stages.pipeline_id
    deal.pipeline_id = stages.pipeline_id
    deal.stage, deal.stage_kind = to_stage, stages.kind(to_stage)
    deal.furthest_rank = max(0 if moved else (deal.furthest_rank or 0), stages.rank[to_stage])
    return row


async def _publish_stage_changed(
    session: AsyncSession,
    deal: Deal,
    from_stage: str,
    by: str,
    at: datetime,
    *,
    stages: Stages,
    from_stages: Stages | None = None,
) -> None:
    event = _stage_changed(deal, from_stage, by, at, stages=stages, from_stages=from_stages)
    await publish(session, event, subject=deal.customer_id)


def _stage_changed(
    deal: Deal,
    from_stage: str,
    by: str,
    at: datetime,
    *,
    stages: Stages,
    from_stages: Stages | None = None,
) -> DealStageChanged:
    """deal.stage_changed; ``from_stages``: the pipeline the deal left, when it moved to another."""
    left = from_stages or stages
    return DealStageChanged(
        deal_id=deal.id,
        customer_id=deal.customer_id,
        from_stage=left.standard(from_stage),
        to_stage=stages.standard(deal.stage),
        probability=deal.probability,
        amount=deal.amount,
        currency=deal.currency,
        changed_by=by,
        changed_at=at,
        owner_id=deal.owner_id,
        pipeline_id=stages.pipeline_id,
        pipeline_name=stages.pipeline_name,
        from_pipeline_id=left.pipeline_id if from_stages is not None else None,
        from_stage_key=from_stage,
        to_stage_key=deal.stage,
        stage_name=stages.name(deal.stage),
    )


@dataclass
class NewDeal:
    """A deal as create_deal makes it, not stored yet: its lines, first history row and events."""

    deal: Deal
    lines: list[DealLine]
    history: DealStageChange
    events: list[DealCreated | DealLargeDetected]


async def new_deal(
    session: AsyncSession,
    data: DealCreate,
    principal: Principal,
    thresholds: Thresholds,
    *,
    lead_id: uuid.UUID | None = None,
    owner_id: str | None = None,
    team_id: uuid.UUID | None = None,
    stages: Stages | None = None,
    customer_checked: bool = False,
) -> NewDeal:
    """Every rule of a deal's creation, checked (reads only) and applied to a new Deal in memory;
    ``stages``: the pipeline's already read, ``customer_checked``: the customer already required."""
    await check_campaign(session, data.campaign_id)
    if not customer_checked:
        await check_customer(session, data.customer_id)
    if stages is None:
        stages = await stages_for_new_deal(session, data.pipeline_id)
    stage = data.stage if data.stage is not None else stages.active_open[0]
    stages.check_entry(stage)
    # The deal's id is chosen here so that its lines can name it.
    deal_id = new_id()
    lines = await build_lines(session, deal_id, data.line_items, data.currency) if data.line_items else []
    amount = _amount_of(lines, data.amount, data.currency)
    custom_fields = await CUSTOM_FIELDS.values(session, "deal", data.custom_fields, creating=True)
    now = utcnow()
    deal = Deal(
        id=deal_id,
        customer_id=data.customer_id,
        title=data.title,
        currency=data.currency,
        pipeline_id=stages.pipeline_id,
        stage=stage,
        stage_kind="open",
        probability=stages.probability_for(stage, data.probability),
        probability_overridden=data.probability is not None,
        owner_id=owner_id if owner_id is not None else owner_for_new(principal, data.owner_id),
        campaign_id=data.campaign_id,
        lead_id=lead_id,
        team_id=team_id,
        payment_terms_days=data.payment_terms_days,
        custom_fields=custom_fields,
        tags=normalise(data.tags),
        created_by=principal.subject,
        created_at=now,
        updated_at=now,
        amount=Decimal(0),
        amount_minor=0,
    )
    _set_amount(deal, amount)
    _set_close_date(deal, data.expected_close_date)
    history = _stage_row(deal, None, stage, principal.subject, now, None, stages=stages)
    events: list[DealCreated | DealLargeDetected] = [
        DealCreated(
            deal_id=deal.id,
            customer_id=deal.customer_id,
            title=deal.title,
            amount=deal.amount,
            currency=deal.currency,
            stage=stages.standard(deal.stage),
            probability=deal.probability,
            owner_id=deal.owner_id,
            expected_close_date=deal.expected_close_date,
            campaign_id=deal.campaign_id,
            tags=deal.tags,
            created_at=now,
            pipeline_id=stages.pipeline_id,
            pipeline_name=stages.pipeline_name,
            stage_key=deal.stage,
            stage_name=stages.name(deal.stage),
            custom_fields=deal.custom_fields,
            team_id=deal.team_id,
        )
    ]
    if (large := _large_event(deal, thresholds)) is not None:
        events.append(large)
    return NewDeal(deal, lines, history, events)


async def create_deal(
    session: AsyncSession,
    data: DealCreate,
    principal: Principal,
    thresholds: Thresholds,
    *,
    lead_id: uuid.UUID | None = None,
    owner_id: str | None = None,
    team_id: uuid.UUID | None = None,
) -> tuple[Deal, list[DealLine]]:
    new = await new_deal(session, data, principal, thresholds, lead_id=lead_id, owner_id=owner_id, team_id=team_id)
    deal = new.deal
    session.add(deal)
    await session.flush()
    await TAGS.insert(session, [(deal.id, deal.tags)])
    session.add_all(new.lines)
    session.add(new.history)
    for event in new.events:
        await publish(session, event, subject=deal.customer_id)
    await session.flush()
    return deal, new.lines


# The deal's fields a PATCH may change that deal.updated announces (the stage is deal.stage_changed).
_ANNOUNCED = (
    "title",
    "amount",
    "owner_id",
    "expected_close_date",
    "probability",
    "campaign_id",
    "payment_terms_days",
    "custom_fields",
)


def _line_items(lines: list[DealLine]) -> list[LineItem]:
    return [
        LineItem(
            product_code=x.product_code,
            description=x.description,
            quantity=x.quantity,
            unit_price=x.unit_price,
            discount_percent=x.discount_percent,
            tax_rate_percent=x.tax_rate_percent,
        )
        for x in sorted(lines, key=lambda line: line.position)
    ]


def _changes(before: dict[str, object], deal: Deal, *, stage_moved: bool) -> dict[str, object]:
    """The announced fields whose value differs from ``before``; the probability a stage move
    brings is deal.stage_changed's."""
    changed = {name: getattr(deal, name) for name in _ANNOUNCED if getattr(deal, name) != before[name]}
    if stage_moved:
        changed.pop("probability", None)
    return changed


def _bump(deal: Deal) -> None:
    deal.version += 1
    deal.updated_at = utcnow()


@dataclass
class DealChange:
    """What a PATCH did to a deal in memory: its events in order, and whether its tags moved."""

    events: list[DealStageChanged | DealUpdated | DealLargeDetected]
    tags_moved: bool


async def update_deal(
    session: AsyncSession,
    deal: Deal,
    patch: DealPatch,
    principal: Principal,
    thresholds: Thresholds,
) -> None:
    change = await apply_deal_patch(session, deal, patch, principal, thresholds)
    if change.tags_moved:
        await TAGS.set(session, deal.id, deal.tags)
    for event in change.events:
        await publish(session, event, subject=deal.customer_id)
    await session.flush()


async def apply_deal_patch(
    session: AsyncSession,
    deal: Deal,
    patch: DealPatch,
    principal: Principal,
    thresholds: Thresholds,
    *,
    stages: Stages | None = None,
    has_lines: bool | None = None,
) -> DealChange:
    """Every rule of a deal's PATCH, applied to the deal; its events and tag rows are the caller's
    to write. ``stages``: the deal's pipeline already read (a PATCH that moves no stage),
    ``has_lines``: whether the deal has lines, already read. A PATCH giving line_items, a stage or
    another pipeline reads and writes the stage history and lines itself."""
    given = patch.model_fields_set
    stage_given = "stage" in given and patch.stage is not None
    moving_pipeline = "pipeline_id" in given and patch.pipeline_id not in (None, deal.pipeline_id)
    # Entering a stage holds the pipeline's row shared: a stage is not removed meanwhile.
    if stages is None or stage_given or moving_pipeline:
        stages = await stages_for_deal(session, deal.pipeline_id, lock=stage_given or moving_pipeline)
    stages.check_open(deal.stage, patch.stage if stage_given and patch.stage is not None else deal.stage)
    for field in ("title", "stage", "line_items", "pipeline_id"):
        if field in given and getattr(patch, field) is None:
            raise InvalidInput(field, "may not be null")
    if "owner_id" in given:
        check_reassign(principal, "deal", deal.owner_id, patch.owner_id)
    # A null title, stage or line_items was refused above.
    from_stages: Stages | None = None
    if moving_pipeline:
        # An open deal moves to another pipeline, into one of its open stages (its first without one).
        from_stages, stages = stages, await stages_for_new_deal(session, patch.pipeline_id)
        target = patch.stage if stage_given and patch.stage is not None else stages.active_open[0]
        stages.check_entry(target)
    elif stage_given and patch.stage is not None:
        if patch.stage not in stages.by_key:
            raise InvalidInput("stage", f"not a stage of pipeline {stages.pipeline_name!r} ({', '.join(stages.order)})")
        stages.check_move(deal.stage, patch.stage)
        target = patch.stage
    else:
        target = deal.stage
    previous_amount = deal.amount
    before = {name: getattr(deal, name) for name in _ANNOUNCED}
    new_lines: list[DealLine] | None = None
    if "amount" in given and patch.amount is not None:
        try:
            check_minor_units(patch.amount, deal.currency, "amount")
        except ValueError as exc:
            raise InvalidInput("amount", str(exc)) from None
    if "line_items" in given and patch.line_items is not None:
        lines = await build_lines(session, deal.id, patch.line_items, deal.currency)
        amount = _amount_of(lines, patch.amount, deal.currency) if lines else (patch.amount or deal.amount)
        old_lines = await lines_of(session, deal.id)
        await session.execute(delete(DealLine).where(col(DealLine.deal_id) == deal.id))
        session.add_all(lines)
        _set_amount(deal, amount)
        if _line_items(lines) != _line_items(old_lines):
            new_lines = lines
    elif "amount" in given:
        if patch.amount is None:
            raise InvalidInput("amount", "may not be null")
        if has_lines is None:
            has_lines = bool((await DealRepository(session).lines([deal.id])).get(deal.id))
        if has_lines:
            raise InvalidInput("amount", "the deal has line_items; change the lines instead")
        _set_amount(deal, patch.amount)
    if "title" in given and patch.title is not None:
        deal.title = patch.title
    if "owner_id" in given:
        deal.owner_id = patch.owner_id
    if "expected_close_date" in given:
        _set_close_date(deal, patch.expected_close_date)
    if "campaign_id" in given:
        await check_campaign(session, patch.campaign_id)
        deal.campaign_id = patch.campaign_id
    if "payment_terms_days" in given:
        deal.payment_terms_days = patch.payment_terms_days
    if "custom_fields" in given:
        # Merged into the deal's values (null clears a key); a new dict: the column is not mutation-tracked.
        deal.custom_fields = await CUSTOM_FIELDS.values(
            session, "deal", patch.custom_fields, deal.custom_fields, creating=False, record_id=deal.id
        )
    tags_before = deal.tags
    if "tags" in given:
        if patch.tags is None:
            raise InvalidInput("tags", "may not be null")
        deal.tags = normalise(patch.tags)
    # The stage the deal moves to, if it moves (to another pipeline: always).
    to_stage = target if target != deal.stage or from_stages is not None else None
    now = utcnow()
    from_stage = deal.stage
    if to_stage is not None:
        await _enter_stage(session, deal, to_stage, principal.subject, now, stages=stages)
    # A new stage brings its default probability unless one is given in the same change.
    if "probability" in given:
        deal.probability = stages.probability_for(deal.stage, patch.probability)
        deal.probability_overridden = patch.probability is not None
    elif to_stage is not None:
        deal.probability, deal.probability_overridden = stages.probability_for(deal.stage), False
    _bump(deal)
    events: list[DealStageChanged | DealUpdated | DealLargeDetected] = []
    if to_stage is not None:
        events.append(_stage_changed(deal, from_stage, principal.subject, now, stages=stages, from_stages=from_stages))
    changed = _changes(before, deal, stage_moved=to_stage is not None)
    if deal.tags != tags_before:
        changed["tags"] = deal.tags
    if new_lines is not None:
        changed["line_items"] = _line_items(new_lines)
    if changed:
        events.append(
            DealUpdated(
                deal_id=deal.id,
                customer_id=deal.customer_id,
                owner_id=deal.owner_id,
                currency=deal.currency,
                changes=DealChanges.model_validate(changed),
                version=deal.version,
                updated_by=principal.subject,
                updated_at=now,
            )
        )
    if deal.amount != previous_amount and (large := _large_event(deal, thresholds)) is not None:
        events.append(large)
    return DealChange(events, deal.tags != tags_before)


async def overdue_invoices_of(session: AsyncSession, customer_id: uuid.UUID) -> list[OverdueInvoice]:
    rows = await session.execute(
        select(OverdueInvoice)
        .where(col(OverdueInvoice.customer_id) == customer_id)
        .order_by(col(OverdueInvoice.due_date))
    )
    return list(rows.scalars())


async def win_state(
    session: AsyncSession, sessions: async_sessionmaker[AsyncSession], deal_id: uuid.UUID, wait: float
) -> WinState | None:
    """What the win decides on, in two statements (``DealRepository.for_win``: the deal and its
    customer's credit line locked, then what is read under those locks). When sales has no
    credit line of the customer yet, billing's first announcement is given up to ``wait`` seconds
    holding no transaction or lock (``await_credit_position``), then read again; None still (no
    such deal, or no announcement): the win takes ``win_deal``'s path, which answers 404 or 503."""
    repo = DealRepository(session)
    state = await repo.for_win(deal_id)
    if state is None:
        await session.rollback()  # nothing was written: the locks go while billing's announcement is awaited
        await await_credit_position(sessions, deal_id, wait)
        state = await repo.for_win(deal_id)
    return state


async def win_loaded(
    session: AsyncSession, state: WinState, body: WinRequest, principal: Principal
) -> tuple[list[DealLine], Stages]:
    """``win_deal`` on a ``WinState``: the same rules, answers and events, in fewer statements
    (the overdue invoices are read only when the customer has some)."""
    deal = state.deal
    if not may_see(principal, deal.owner_id, deal.team_id):
        raise NotFound("deal", deal.id)
    stages = state.stages
    stages.check_close(deal.stage, stages.won)
    holds = await overdue_invoices_of(session, deal.customer_id) if state.on_hold else []
    check = await check_with(session, state.line, [state.pending], amount=deal.amount, currency=deal.currency)
    return await _win(session, deal, body, principal, stages, holds, check, state.current, state.lines)


async def win_deal(
    session: AsyncSession,
    deal: Deal,
    body: WinRequest,
    principal: Principal,
) -> tuple[list[DealLine], Stages]:
    """Win the deal; returns its lines and its pipeline's stages (what the answer shows)."""
    stages = await stages_for_deal(session, deal.pipeline_id)
    stages.check_close(deal.stage, stages.won)
    holds = await overdue_invoices_of(session, deal.customer_id)
    # The credit limit (docs/domain.md §10.1): exposure + this deal, in the limit's currency.
    check = await limit_check(
        session,
        customer_id=deal.customer_id,
        deal_id=deal.id,
        amount=deal.amount,
        currency=deal.currency,
    )
    current = await DealRepository(session).current_stage_row(deal.id)
    return await _win(session, deal, body, principal, stages, holds, check, current, None)


async def _win(
    session: AsyncSession,
    deal: Deal,
    body: WinRequest,
    principal: Principal,
    stages: Stages,
    holds: list[OverdueInvoice],
    check: LimitCheck,
    current: DealStageChange | None,
    lines: list[DealLine] | None,
) -> tuple[list[DealLine], Stages]:
    """The win decided on the customer's overdue invoices (``holds``), the credit ``check`` and the
    deal's open history row (``current``), and written: the check, the stage change, both events;
    ``lines``: the deal's, if already read."""
    override_by = None
    if holds:
        if not body.credit_override:
            raise Conflict(
                "the customer is on credit hold (overdue invoices); a finance manager may override",
                kind="credit-hold",
                overdue_invoices=[
                    {
                        "invoice_id": str(h.invoice_id),
                        "number": h.number,
                        "amount_due": str(h.amount_due),
                        "currency": h.currency,
                        "days_overdue": h.days_overdue,
                    }
                    for h in holds
                ],
            )
        if not principal.has_any(CREDIT_OVERRIDERS):
            raise Forbidden(
                "only a finance manager may override a credit hold", required_roles=sorted(CREDIT_OVERRIDERS)
            )
        override_by = principal.subject
    if not check.fits:
        if not body.credit_override:
            raise CreditLimitExceeded(check, deal.amount, deal.currency)
        if not principal.has_any(CREDIT_OVERRIDERS):
            raise Forbidden(
                "only a finance manager may let a deal past the credit limit", required_roles=sorted(CREDIT_OVERRIDERS)
            )
        override_by = principal.subject
    checked = check_upsert(session, deal.id, deal.customer_id, check, override_by if not check.fits else None)
    # Read before the deal changes in memory: a query would flush the changes (write_win writes them).
    if lines is None:
        lines = (await DealRepository(session).lines([deal.id])).get(deal.id, [])
    now = utcnow()
    from_stage, entered = _moved(deal, current, stages.won, principal.subject, now, stages=stages)
    deal.probability, deal.probability_overridden = 100, False
    deal.closed_at = now
    deal.cycle_seconds = max(int((now - deal.created_at).total_seconds()), 0)
    deal.credit_override_by = override_by
    if body.payment_terms_days is not None:
        deal.payment_terms_days = body.payment_terms_days
    _bump(deal)
    changed = _stage_changed(deal, from_stage or stages.open[0], principal.subject, now, stages=stages)
    won = DealWon(
        deal_id=deal.id,
        customer_id=deal.customer_id,
        title=deal.title,
        amount=deal.amount,
        currency=deal.currency,
        line_items=_line_items(lines),
        payment_terms_days=deal.payment_terms_days,
        owner_id=deal.owner_id,
        campaign_id=deal.campaign_id,
        credit_override_by=override_by,
        won_at=now,
        credit_check=CreditCheck(
            credit_limit=check.credit_limit,
            exposure=check.exposure,
            amount=check.amount,
            currency=check.currency,
            exchange_rate=check.exchange_rate,
            fits=check.fits,
        ),
        pipeline_id=stages.pipeline_id,
        pipeline_name=stages.pipeline_name,
        stage_key=deal.stage,
        stage_name=stages.name(deal.stage),
    )
    await DealRepository(session).write_win(deal, current, entered, checked)
    # Both events in one INSERT, in this order (the outbox's sequence follows the rows').
    await publish_many(session, [outbox_row(e, subject=deal.customer_id) for e in (changed, won)])
    return lines, stages


async def lose_deal(session: AsyncSession, deal: Deal, body: LoseRequest, principal: Principal) -> None:
    stages = await stages_for_deal(session, deal.pipeline_id)
    stages.check_close(deal.stage, stages.lost)
    now = utcnow()
    from_stage = await _enter_stage(
        session, deal, stages.lost, principal.subject, now, reason=body.reason, stages=stages
    )
    deal.probability, deal.probability_overridden = 0, False
    deal.closed_at, deal.lost_reason = now, body.reason
    deal.cycle_seconds = max(int((now - deal.created_at).total_seconds()), 0)
    _bump(deal)
    await _publish_stage_changed(session, deal, from_stage or stages.open[0], principal.subject, now, stages=stages)
    await publish(
        session,
        DealLost(
            deal_id=deal.id,
            customer_id=deal.customer_id,
            amount=deal.amount,
            currency=deal.currency,
            reason=body.reason,
            owner_id=deal.owner_id,
            lost_at=now,
            pipeline_id=stages.pipeline_id,
            pipeline_name=stages.pipeline_name,
            stage_key=deal.stage,
            stage_name=stages.name(deal.stage),
        ),
        subject=deal.customer_id,
    )
    await session.flush()


async def reopen_deal(session: AsyncSession, deal: Deal, body: ReopenRequest, principal: Principal) -> None:
    """The one way a closed deal moves again: by a manager, with a reason kept in its history."""
    stages = await stages_for_deal(session, deal.pipeline_id, lock=True)
    target = body.stage if body.stage is not None else stages.reopen_default()
    if target not in stages.by_key:
        raise InvalidInput("stage", f"not a stage of pipeline {stages.pipeline_name!r} ({', '.join(stages.order)})")
    stages.check_reopen(deal.stage, target)
    now = utcnow()
    from_stage = deal.stage
    await _enter_stage(session, deal, target, principal.subject, now, reason=f"reopened: {body.reason}", stages=stages)
    deal.probability, deal.probability_overridden = stages.probability_for(target), False
    deal.closed_at = deal.cycle_seconds = deal.lost_reason = deal.credit_override_by = None
    _bump(deal)
    await _publish_stage_changed(session, deal, from_stage, principal.subject, now, stages=stages)
    await session.flush()
