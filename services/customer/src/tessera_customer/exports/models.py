"""The export job and chunk tables in the customer service's database (tessera_shared.exports)."""

from tessera_customer.models import metadata
from tessera_shared.exports.tables import export_tables

EXPORTS = export_tables(metadata)
