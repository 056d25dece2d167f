"""The local copy of customers, kept from the customer service's facts (``tessera_shared.known_customers``).

A merge moves the merged customer's deals, leads, activities and credit facts to the survivor;
an erasure removes personal data (a lead's contact details, an activity's texts), while business
facts (amounts, stages, dates) stay for the totals."""

from __future__ import annotations

from tessera_sales.activities.models import Activity
from tessera_sales.credit.models import CollectedPayment, OverdueInvoice
from tessera_sales.deals.models import Deal
from tessera_sales.known_customers.models import KnownCustomer
from tessera_sales.leads.models import Lead
from tessera_shared.known_customers import ERASED, KnownCustomers, Repoint, Scrub

KNOWN_CUSTOMERS = KnownCustomers(
    KnownCustomer,
    repoint=[Repoint(Deal), Repoint(Lead), Repoint(Activity), Repoint(OverdueInvoice), Repoint(CollectedPayment)],
    scrubs=[
        Scrub(
            Lead, {"name": ERASED, "company": None, "title": None, "email": None, "phone": None, "score_reasons": []}
        ),
        Scrub(Activity, {"subject": ERASED, "notes": None}),
    ],
)

on_customer_created = KNOWN_CUSTOMERS.created()
on_customer_updated = KNOWN_CUSTOMERS.updated
on_customer_merged = KNOWN_CUSTOMERS.merged
on_customer_erased = KNOWN_CUSTOMERS.erased
