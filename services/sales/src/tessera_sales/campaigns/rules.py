"""Campaign ROI (投入产出比): cash actually collected, not deal amounts, against what was spent; and the
consent a customer member needs (docs/domain.md §10.4)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from tessera_sales.money import from_minor


def roi(collected: Decimal, cost: Decimal) -> Decimal | None:
    """(collected - cost) / cost to 4 places; None when nothing was spent (undefined, not infinite)."""
    if cost <= 0:
        return None
    return ((collected - cost) / cost).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class CurrencyRoi:
    currency: str
    cost: Decimal
    collected: Decimal
    roi: Decimal | None


def roi_by_currency(cost_minor: dict[str, int], collected_minor: dict[str, int]) -> list[CurrencyRoi]:
    """One line per currency seen on either side; currencies are never mixed without a rate."""
    out = []
    for currency in sorted(set(cost_minor) | set(collected_minor)):
        cost = from_minor(cost_minor.get(currency, 0), currency)
        collected = from_minor(collected_minor.get(currency, 0), currency)
        out.append(CurrencyRoi(currency, cost, collected, roi(collected, cost)))
    return out


# The consent purposes that allow contacting a customer for marketing, and the one each direct
# channel needs (the segment export's mapping, docs/domain.md §1.12). ``profiling`` allows none.
CONTACT_PURPOSES = ("marketing_email", "sms", "phone")
CHANNEL_PURPOSE = {"email": "marketing_email", "sms": "sms", "phone": "phone"}


def purposes_for(channel: str) -> tuple[str, ...]:
    """The purposes any one of which lets a customer be a member of a campaign on ``channel``: the
    channel's own for email, sms and phone; any contact purpose for the others (social, web, event, ...)."""
    own = CHANNEL_PURPOSE.get(channel)
    return (own,) if own is not None else CONTACT_PURPOSES


@dataclass(frozen=True)
class MemberCheck:
    """``reason`` is None when the customer may be an active member; else why not:
    ``customer_erased``, ``consent_withdrawn`` (the needed consent was answered no) or ``no_consent``
    (never answered)."""

    reason: str | None
    message: str

    @property
    def allowed(self) -> bool:
        return self.reason is None


def check_member(channel: str, consents: Mapping[str, bool], *, erased: bool = False) -> MemberCheck:
    """May a customer with these current answers (purpose → granted) be an active member of a campaign
    on ``channel``? Only a granted consent counts; an unknown answer is a no."""
    needed = purposes_for(channel)
    wanted = " or ".join(needed)
    if erased:
        return MemberCheck("customer_erased", "the customer is erased")
    if any(consents.get(p) is True for p in needed):
        return MemberCheck(None, f"consent for {wanted} given")
    if any(p in consents for p in needed):
        return MemberCheck("consent_withdrawn", f"consent for {wanted} (channel {channel}) is withdrawn")
    return MemberCheck("no_consent", f"no consent for {wanted} (channel {channel}) is recorded")
