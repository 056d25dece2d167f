from tessera_notifications import all_models as _all_models  # noqa: F401 - registers the tables
from tessera_notifications.models import metadata
from tessera_shared.migrations import run_env

run_env(metadata)
