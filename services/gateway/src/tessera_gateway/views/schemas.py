"""The response model of the 360 view (views/customer360.py composes it; the router declares it).

Objects copied from a service's answer are typed loosely here (the merged OpenAPI document has
their exact schemas under the owning service's name, noted in each description); the sales
totals, counts and flags are typed exactly.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

SectionStatus = Literal["ok", "not_found", "forbidden", "error", "timeout", "unavailable"]
Object = dict[str, Any]


class MoneyTotal(BaseModel):
    currency: str = Field(description="ISO 4217")
    amount: str = Field(
        description="decimal string, rounded to the currency's minor unit (2 for EUR, 0 for JPY, 3 for KWD)",
        pattern=r"^-?\d+(\.\d+)?$",
    )


class SalesSection(BaseModel):
    open_deals: list[Object] = Field(description="deals as in GET /api/v1/deals (sales.DealOut)")
    recent_deals: list[Object] = Field(description="the 10 most recently updated deals (sales.DealOut)")
    pipeline_value: list[MoneyTotal]
    weighted_pipeline: list[MoneyTotal]
    lifetime_won: list[MoneyTotal]
    truncated: bool = Field(description="more than 200 open deals: 200 are listed, the sums cover all of them")


class ServiceSection(BaseModel):
    open_tickets: list[Object] = Field(description="tickets as in GET /api/v1/tickets (service-desk.TicketOut)")
    recent_tickets: list[Object]
    escalated: int = Field(description="the customer's tickets ever escalated, any status")
    last_csat: int | None = Field(
        description="CSAT of the latest answered survey (null to roles that may not read surveys)"
    )
    truncated: bool = Field(description="more than 200 open tickets: 200 are listed")


class BillingSection(BaseModel):
    open_invoices: list[Object] = Field(description="as in GET /api/v1/receivables/{customer_id}")
    recent_invoices: list[Object]
    balance: list[Object]
    overdue_amount: list[Object]
    customer_credit: list[Object]
    credit: Object | None
    aging: Object | None
    truncated: bool


class Customer360(BaseModel):
    """Every service's picture of one customer; `sections` says how each part was fetched."""

    customer_id: str = Field(json_schema_extra={"format": "uuid"})
    profile: Object | None = Field(description="as in GET /api/v1/customers/{id} (customer.CustomerOut)")
    contacts: list[Object]
    consents: Object | None
    churn_risk: Object | None
    loyalty: Object | None
    timeline: list[Object]
    sales: SalesSection
    service: ServiceSection
    billing: BillingSection
    sections: dict[str, SectionStatus] = Field(
        description="per section (profile, loyalty, timeline, sales, service, billing): ok, not_found, "
        "forbidden, error, timeout or unavailable; a section not ok is empty"
    )
