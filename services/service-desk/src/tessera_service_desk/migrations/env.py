from tessera_service_desk.directory import models as _directory  # noqa: F401 - registers the tables
from tessera_service_desk.models import metadata
from tessera_shared.migrations import run_env

run_env(metadata)
