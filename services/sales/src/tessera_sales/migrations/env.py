from tessera_sales.activities import models as _activities  # noqa: F401 - registers the tables
from tessera_sales.campaigns import models as _campaigns  # noqa: F401
from tessera_sales.catalog import models as _catalog  # noqa: F401
from tessera_sales.credit import models as _credit  # noqa: F401
from tessera_sales.custom_fields import DEFINITIONS as _custom_fields  # noqa: F401
from tessera_sales.deals import models as _deals  # noqa: F401
from tessera_sales.exports import models as _exports  # noqa: F401
from tessera_sales.known_customers import models as _known_customers  # noqa: F401
from tessera_sales.leads import models as _leads  # noqa: F401
from tessera_sales.models import metadata
from tessera_sales.pipelines import models as _pipelines  # noqa: F401
from tessera_sales.teams import KnownTeam as _teams  # noqa: F401
from tessera_sales.transfers import TABLE as _transfers  # noqa: F401
from tessera_shared.migrations import run_env

run_env(metadata)
