from tessera_customer import all_models as _models  # noqa: F401 - registers the tables
from tessera_customer.models import metadata
from tessera_shared.migrations import run_env

run_env(metadata)
