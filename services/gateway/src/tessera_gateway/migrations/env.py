from tessera_gateway.models import metadata
from tessera_shared.migrations import run_env

run_env(metadata)
