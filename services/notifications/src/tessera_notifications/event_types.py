"""The business facts this service reads: the types a routing rule, a user's preference and a
partner's webhook endpoint may name (what the consumer routes and fans out; a name outside them
would be stored and never match, so it is refused with a 422 naming the field)."""

from __future__ import annotations

from collections.abc import Iterable

from tessera_shared.errors import InvalidInput
from tessera_shared.events.envelope import registered_event_types

# The producers whose topics are routed to people and fanned out to webhooks.
BUSINESS_PRODUCERS = ("customer", "sales", "service-desk", "billing")


def business_event_types() -> frozenset[str]:
    """The published CloudEvents types of those producers' topics."""
    return frozenset(
        t for t, m in registered_event_types().items() if getattr(m, "producer", None) in BUSINESS_PRODUCERS
    )


def refuse_unknown(field: str, types: Iterable[str], *, wildcard: bool = False) -> None:
    """422 naming ``field`` when one of ``types`` is not a business event type (``*`` allowed if
    ``wildcard``)."""
    known = business_event_types()
    unknown = sorted({t for t in types if t not in known and not (wildcard and t == "*")})
    if unknown:
        raise InvalidInput(field, f"not published event types: {', '.join(unknown)}")
