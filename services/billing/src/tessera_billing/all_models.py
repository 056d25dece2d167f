"""Importing this module registers every billing table on the service's metadata."""

from tessera_billing.credit import models as _credit  # noqa: F401
from tessera_billing.dunning import models as _dunning  # noqa: F401
from tessera_billing.exports import models as _exports  # noqa: F401
from tessera_billing.invoices import models as _invoices  # noqa: F401
from tessera_billing.known_customers import models as _known_customers  # noqa: F401
from tessera_billing.ledger import models as _ledger  # noqa: F401
from tessera_billing.loyalty import models as _loyalty  # noqa: F401
from tessera_billing.payments import models as _payments  # noqa: F401
from tessera_billing.rates import models as _rates  # noqa: F401
from tessera_billing.writeoffs import models as _writeoffs  # noqa: F401
