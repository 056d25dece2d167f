"""Privacy use cases: consent per purpose, the data-subject export, erasure (flush only; the request commits)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlmodel import col

from tessera_customer.contacts.models import Contact
from tessera_customer.custom_fields import CUSTOM_FIELDS
from tessera_customer.customers.models import AccessLog, Customer
from tessera_customer.customers.repository import CustomerRepository
from tessera_customer.lifecycle.models import StatusChange
from tessera_customer.loyalty.models import LoyaltyAccount, LoyaltyEntry
from tessera_customer.models import Base
from tessera_customer.privacy.models import Consent, ConsentRecord
from tessera_customer.timeline import service as timeline
from tessera_customer.timeline.models import TimelineEntry
from tessera_customer.value.models import CustomerSignals, PaymentFact, Purchase
from tessera_shared.db import utcnow
from tessera_shared.db.shred import shred_after_commit
from tessera_shared.events.contracts import CustomerConsentChanged, CustomerErased
from tessera_shared.events.contracts.customer import ConsentPurpose
from tessera_shared.http.idempotency import forget_replies
from tessera_shared.known_customers import ERASED
from tessera_shared.outbox import forget_sent, publish


async def consents_of(
    session: AsyncSession, customer_id: uuid.UUID
) -> tuple[Sequence[Consent], Sequence[ConsentRecord]]:
    """The current consent per purpose (by purpose) and every record of it (newest first)."""
    current = (
        await session.scalars(
            select(Consent).where(col(Consent.customer_id) == customer_id).order_by(col(Consent.purpose))
        )
    ).all()
    history = (
        await session.scalars(
            select(ConsentRecord)
            .where(col(ConsentRecord.customer_id) == customer_id)
            .order_by(col(ConsentRecord.recorded_at).desc(), col(ConsentRecord.id).desc())
        )
    ).all()
    return current, history


async def record_consent(
    session: AsyncSession, customer: Customer, *, purpose: str, granted: bool, source: str, actor: str
) -> None:
    """Append the record, move the current consent and note it on the timeline."""
    now = utcnow()
    session.add(
        ConsentRecord(
            customer_id=customer.id,
            purpose=purpose,
            granted=granted,
            source=source,
            recorded_at=now,
            recorded_by=actor,
        )
    )
    current = await session.get(Consent, (customer.id, purpose))
    if current is None:
        session.add(
            Consent(
                customer_id=customer.id,
                purpose=purpose,
                granted=granted,
                source=source,
                recorded_at=now,
                recorded_by=actor,
            )
        )
    else:
        current.granted, current.source, current.recorded_at, current.recorded_by = (
            granted,
            source,
            now,
            actor,
        )
    timeline.record(
        session,
        customer.id,
        "consent.recorded",
        f"Consent for {purpose} {'given' if granted else 'withdrawn'} ({source})",
        occurred_at=now,
        data={"purpose": purpose, "granted": granted},
    )
    await session.flush()
    await publish(
        session,
        CustomerConsentChanged(
            customer_id=customer.id,
            purpose=cast(ConsentPurpose, purpose),
            granted=granted,
            source=source,
            actor=actor,
            changed_at=now,
        ),
        subject=customer.id,
    )


async def withdraw_consents_on_erasure(session: AsyncSession, customer: Customer, *, actor: str, at: datetime) -> None:
    """An erased customer can be contacted no more: every granted purpose is withdrawn (source
    ``erasure``, recorded like any answer) and announced, before customer.erased (docs/domain.md §10.4)."""
    granted = (
        await session.scalars(
            select(Consent)
            .where(col(Consent.customer_id) == customer.id, col(Consent.granted).is_(True))
            .order_by(col(Consent.purpose))
        )
    ).all()
    for consent in granted:
        consent.granted, consent.source, consent.recorded_at, consent.recorded_by = False, "erasure", at, actor
        session.add(
            ConsentRecord(
                customer_id=customer.id,
                purpose=consent.purpose,
                granted=False,
                source="erasure",
                recorded_at=at,
                recorded_by=actor,
            )
        )
        await publish(
            session,
            CustomerConsentChanged(
                customer_id=customer.id,
                purpose=cast(ConsentPurpose, consent.purpose),
                granted=False,
                source="erasure",
                actor=actor,
                changed_at=at,
            ),
            subject=customer.id,
        )
    await session.flush()


async def contacts_of(session: AsyncSession, customer_id: uuid.UUID) -> Sequence[Contact]:
    return (await session.scalars(select(Contact).where(col(Contact.customer_id) == customer_id))).all()


def _rows(rows: Any) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in rows]


async def export_records(session: AsyncSession, customer_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """The customer's rows in every other table, as JSON-ready dicts, keyed as the export names them."""

    async def all_of(model: type[Base], column: Mapped[uuid.UUID]) -> list[dict[str, Any]]:
        return _rows((await session.scalars(select(model).where(column == customer_id))).all())

    return {
        "status_history": await all_of(StatusChange, col(StatusChange.customer_id)),
        "timeline": await all_of(TimelineEntry, col(TimelineEntry.customer_id)),
        "purchases": await all_of(Purchase, col(Purchase.customer_id)),
        "payments": await all_of(PaymentFact, col(PaymentFact.customer_id)),
        "signals": await all_of(CustomerSignals, col(CustomerSignals.customer_id)),
        "loyalty_account": await all_of(LoyaltyAccount, col(LoyaltyAccount.customer_id)),
        "loyalty_entries": await all_of(LoyaltyEntry, col(LoyaltyEntry.customer_id)),
        "access_log": await all_of(AccessLog, col(AccessLog.customer_id)),
    }


# The customer record's personal columns that erasure sets to NULL (name and lists are replaced).
NULLED_ON_ERASURE = (
    "email",
    "phone",
    "external_id",
    "gender",
    "age_band",
    "occupation",
    "education",
    "region",
    "city",
    "climate_zone",
    "lifestyle",
    "social_status",
)


async def erase(session: AsyncSession, customer: Customer, *, actor: str, reason: str) -> None:
    """Anonymise the customer's personal data (business totals stay), announce customer.erased."""
    now = utcnow()
    for column in NULLED_ON_ERASURE:
        setattr(customer, column, None)
    customer.name, customer.name_key = "erased customer", ""
    customer.tags, customer.channels, customer.custom_attributes, customer.preferences = [], [], {}, []
    # The personal custom fields go; the others stay (tessera_customer.custom_fields).
    customer.custom_fields = await CUSTOM_FIELDS.erase(session, "customer", customer.custom_fields)
    customer.erased_at, customer.updated_at = now, now
    customer.version += 1
    await withdraw_consents_on_erasure(session, customer, actor=actor, at=now)
    await CustomerRepository(session).set_tags(customer.id, [])
    await session.execute(delete(Contact).where(col(Contact.customer_id) == customer.id))
    # Timeline lines may quote subjects, comments and names: keep the kind and time, drop the text.
    await session.execute(
        update(TimelineEntry)
        .where(col(TimelineEntry.customer_id) == customer.id)
        .values(summary=col(TimelineEntry.kind), data={})
    )
    await session.execute(update(StatusChange).where(col(StatusChange.customer_id) == customer.id).values(note=None))
    # Redemption and reversal reasons are free text: keep the points, the kind and the ref.
    await session.execute(
        update(LoyaltyEntry).where(col(LoyaltyEntry.customer_id) == customer.id).values(reason=col(LoyaltyEntry.kind))
    )
    # Lost-deal reasons quote sales' texts: the count stays, the reasons go.
    signals = await session.get(CustomerSignals, customer.id)
    if signals is not None and signals.lost_reasons:
        signals.lost_reasons = {ERASED: sum(int(n) for n in signals.lost_reasons.values())}
    # The sent copies of its facts (names, contacts) go from the outbox; Kafka keeps what was sent.
    await forget_sent(session, [str(customer.id)])
    await forget_replies(session, customer.id)
    shred_after_commit(session)  # nor in SQLite's WAL once committed
    await session.flush()
    await publish(
        session,
        CustomerErased(customer_id=customer.id, requested_by=actor, erased_at=now),
        subject=customer.id,
    )
    timeline.record(
        session,
        customer.id,
        "customer.erased",
        "Personal data erased",
        occurred_at=now,
        data={"requested_by": actor, "reason": reason},
    )


# What ``erase`` blanks, per table (contacts and tags are deleted), and the text columns of the
# customer's tables that hold nothing personal (codes, states, staff ids, keys, proofs of consent);
# a unit test holds the two against the models, so a new text column is one or the other
# (docs/domain.md §10.3).
ERASED_COLUMNS: dict[str, frozenset[str]] = {
    "customers": frozenset(
        {
            *NULLED_ON_ERASURE,
            "name",
            "name_key",
            "tags",
            "channels",
            "custom_attributes",
            "custom_fields",
            "preferences",
        }
    ),
    "contacts": frozenset(
        {"name", "title", "department", "email", "phone", "buying_role", "external_id", "custom_fields"}
    ),
    "customer_tags": frozenset({"tag"}),
    "timeline_entries": frozenset({"summary", "data"}),
    "status_changes": frozenset({"note"}),
    "loyalty_entries": frozenset({"reason"}),
    "customer_signals": frozenset({"lost_reasons"}),
}
NOT_PERSONAL: dict[str, frozenset[str]] = {
    "customers": frozenset(
        {
            "kind",
            "owner_id",
            "status",
            "country",
            "relation",
            "relationship_type",
            "lifecycle_stage",
            "tier",
            "lifetime_values",
            "rfm_segment",
            "frequency_class",
        }
    ),
    "access_log": frozenset({"principal", "action"}),
    # Kept as the proof of what the customer answered (§1.12, §10.4).
    "consents": frozenset({"purpose", "source", "recorded_by"}),
    "consent_records": frozenset({"purpose", "source", "recorded_by"}),
    "customer_signals": frozenset({"open_tickets", "escalated_tickets", "overdue_invoices"}),
    # Admins' definitions of custom fields: labels and options, no customer's data.
    "custom_field_definitions": frozenset({"entity", "key", "label", "type", "options", "description", "created_by"}),
    "loyalty_accounts": frozenset({"level"}),
    "loyalty_entries": frozenset({"kind", "ref", "actor"}),
    "payment_facts": frozenset({"currency"}),
    "purchases": frozenset({"key", "source", "currency"}),
    "status_changes": frozenset({"from_status", "to_status", "reason", "actor"}),
    "tier_changes": frozenset({"from_tier", "to_tier"}),
    "timeline_entries": frozenset({"kind", "source", "ref_id", "event_id"}),
}
