"""The export job and chunk tables in the billing service's database (tessera_shared.exports)."""

from tessera_billing.models import metadata
from tessera_shared.exports.tables import export_tables

EXPORTS = export_tables(metadata)
