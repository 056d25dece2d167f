from tessera_billing import all_models as _all  # noqa: F401 - registers the tables
from tessera_billing.models import metadata
from tessera_shared.migrations import run_env

run_env(metadata)
