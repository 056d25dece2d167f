from tessera_sales.directory import models as _directory  # noqa: F401 - registers the tables
from tessera_sales.models import metadata
from tessera_shared.migrations import run_env

run_env(metadata)
