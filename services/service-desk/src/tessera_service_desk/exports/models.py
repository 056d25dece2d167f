"""The export job and chunk tables in the service desk's database (tessera_shared.exports)."""

from tessera_service_desk.models import metadata
from tessera_shared.exports.tables import export_tables

EXPORTS = export_tables(metadata)
