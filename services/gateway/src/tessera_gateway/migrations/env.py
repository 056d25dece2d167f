from tessera_gateway.models import metadata
from tessera_gateway.ownership import models as _ownership  # noqa: F401 - registers the table
from tessera_shared.migrations import run_env

run_env(metadata)
