"""Imports every table module so that the metadata (and migrations) see all of them."""

from tessera_customer import custom_fields as custom_fields
from tessera_customer.contacts import models as contacts  # noqa: F401
from tessera_customer.customers import models as customers  # noqa: F401
from tessera_customer.exports import models as exports  # noqa: F401
from tessera_customer.lifecycle import models as lifecycle  # noqa: F401
from tessera_customer.loyalty import models as loyalty  # noqa: F401
from tessera_customer.privacy import models as privacy  # noqa: F401
from tessera_customer.segments import models as segments  # noqa: F401
from tessera_customer.teams import KnownTeam as teams  # noqa: F401
from tessera_customer.timeline import models as timeline  # noqa: F401
from tessera_customer.transfers import TABLE as transfers  # noqa: F401
from tessera_customer.value import models as value  # noqa: F401
