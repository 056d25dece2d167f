"""The export job and chunk tables in the sales service's database (tessera_shared.exports)."""

from tessera_sales.models import metadata
from tessera_shared.exports.tables import export_tables

EXPORTS = export_tables(metadata)
