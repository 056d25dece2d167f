from __future__ import annotations

from tessera_billing.models import Base
from tessera_shared.known_customers import KnownCustomerFields


class KnownCustomer(Base, KnownCustomerFields, table=True):
    """Billing's local copy of a customer, kept from customer events (the shared column set and
    conventions: ``tessera_shared.known_customers``)."""
