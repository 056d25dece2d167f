from __future__ import annotations

from tessera_sales.models import Base
from tessera_shared.known_customers import KnownCustomerFields


class KnownCustomer(Base, KnownCustomerFields, table=True):
    """Sales' local copy of what it needs about a customer, kept from customer events (the shared
    column set and conventions: ``tessera_shared.known_customers``)."""
