from tessera_customer.customers import models as _customers  # noqa: F401 - registers the tables
from tessera_customer.models import metadata
from tessera_shared.migrations import run_env

run_env(metadata)
