from tessera_service_desk.custom_fields import DEFINITIONS as _custom_fields  # noqa: F401 - registers the tables
from tessera_service_desk.exports import models as _exports  # noqa: F401
from tessera_service_desk.kb import models as _kb  # noqa: F401
from tessera_service_desk.known_customers import models as _known_customers  # noqa: F401
from tessera_service_desk.models import metadata
from tessera_service_desk.sla import models as _sla  # noqa: F401
from tessera_service_desk.surveys import models as _surveys  # noqa: F401
from tessera_service_desk.tickets import models as _tickets  # noqa: F401
from tessera_service_desk.transfers import TABLE as _transfers  # noqa: F401
from tessera_shared.migrations import run_env

run_env(metadata)
